import {
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { IssuedToken, TokenIssuer } from '@stayline/identity';
import { UserDirectory } from '../users/user-directory';
import { LoginThrottle } from './login-throttle';

/** Too many failed logins for a username from one address: 429, with the wait. */
export class TooManyLoginAttempts extends HttpException {
  constructor(readonly retryAfterS: number) {
    super(
      {
        error: 'too_many_attempts',
        message: `too many failed logins for this username from this address; retry in ${retryAfterS} s`,
      },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}

/**
 * A login (the resource owner password grant): the username and address not
 * throttled, the password the user's, then a token with the user's scopes.
 * A wrong username and a wrong password get the same answer.
 */
@Injectable()
export class LoginUseCase {
  constructor(
    @Inject(UserDirectory) private readonly users: UserDirectory,
    @Inject(TokenIssuer) private readonly issuer: TokenIssuer,
    @Inject(LoginThrottle) private readonly throttle: LoginThrottle,
  ) {}

  async execute(username: string, password: string, address: string): Promise<IssuedToken> {
    const key = `${username}\u0000${address}`;
    const waitMs = this.throttle.retryAfterMs(key);
    if (waitMs > 0) throw new TooManyLoginAttempts(Math.ceil(waitMs / 1000));
    const user = await this.users.authenticate(username, password);
    if (!user) {
      this.throttle.failed(key);
      throw new UnauthorizedException({
        error: 'invalid_credentials',
        message: 'wrong username or password',
      });
    }
    this.throttle.succeeded(key);
    return this.issuer.issue(user.id, user.scopes);
  }
}

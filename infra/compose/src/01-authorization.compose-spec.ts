/**
 * The authorization matrix (`@stayline/stack-kit/suites`, authorization.ts) on
 * the compose stack: every documented operation × every refused caller, the
 * owner's and another user's case of each, no admin route through the gateway,
 * every answer JSON and naming nothing internal; the same cases as the native
 * run (tools/stack-kit/src/authorization.e2e-spec.ts).
 */
import { describeAuthorization } from '@stayline/stack-kit/suites';
import { ComposeStack } from './lib/compose-stack';
import { composeGatewayTarget } from './lib/gateway-target';

jest.setTimeout(60_000);

describeAuthorization('compose', () => composeGatewayTarget(ComposeStack.fromEnv()));

import { DynamicModule, Module } from '@nestjs/common';
import { faultInjectorProvider, platformImports } from '@stayline/service-runtime';
import { PaymentConfig } from './config';
import { CreatePayments1764000000000 } from './migrations/1764000000000-create-payments';
import { ExactIdentifiers1765000000000 } from './migrations/1765000000000-exact-identifiers';
import { Payment } from './payments/payment.entity';
import { PaymentMessagesController } from './payments/payment-messages.controller';
import { PaymentsController } from './payments/payments.controller';
import { PAYMENT_FAULTS, PaymentsService } from './payments/payments.service';

export const PAYMENT_MIGRATIONS = [CreatePayments1764000000000, ExactIdentifiers1765000000000];

@Module({})
export class AppModule {
  static forRoot(config: PaymentConfig): DynamicModule {
    return {
      module: AppModule,
      imports: platformImports(config, { entities: [Payment] }),
      controllers: [PaymentsController, PaymentMessagesController],
      providers: [faultInjectorProvider(PAYMENT_FAULTS, config), PaymentsService],
    };
  }
}

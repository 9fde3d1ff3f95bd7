import { DynamicModule, Module } from '@nestjs/common';
import { DatabaseModule } from '@stayline/database';
import { ObservabilityModule } from '@stayline/observability';
import { PaymentConfig, PAYMENT_CONFIG } from './config';
import { CreatePayments1764000000000 } from './migrations/1764000000000-create-payments';
import { Payment } from './payments/payment.entity';
import { PaymentsController } from './payments/payments.controller';
import { PaymentsService } from './payments/payments.service';

export const PAYMENT_MIGRATIONS = [CreatePayments1764000000000];

@Module({})
export class AppModule {
  static forRoot(config: PaymentConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot({ service: 'payment', level: config.LOG_LEVEL }),
        DatabaseModule.forRootAsync({
          useFactory: () => ({
            database: config.DB_NAME,
            user: config.DB_USER,
            password: config.DB_PASSWORD,
            topology: { epoch: 0, primary: config.DB_PRIMARY, replicas: config.DB_REPLICAS },
            entities: [Payment],
          }),
        }),
      ],
      controllers: [PaymentsController],
      providers: [{ provide: PAYMENT_CONFIG, useValue: config }, PaymentsService],
    };
  }
}

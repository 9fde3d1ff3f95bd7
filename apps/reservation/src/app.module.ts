import { DynamicModule, Module } from '@nestjs/common';
import { platformImports } from '@stayline/service-runtime';
import { ClientsModule, CLIENT_FLAG_DEFAULTS } from './clients/clients.module';
import { ReservationConfig } from './config';
import { Listing } from './listings/listing.entity';
import { ListingsController } from './listings/listings.controller';
import { ListingsService } from './listings/listings.service';
import { CreateReservationSchema1764000000000 } from './migrations/1764000000000-create-reservation-schema';
import { SeedListings1764000000001 } from './migrations/1764000000001-seed-listings';
import { ExactIdentifiers1765000000000 } from './migrations/1765000000000-exact-identifiers';
import { PerUserIdempotencyKeys1766000000000 } from './migrations/1766000000000-per-user-idempotency-keys';
import { PerUserBookingCap1766000000001 } from './migrations/1766000000001-per-user-booking-cap';
import { WorkersModule } from './reconciler/workers.module';
import { BOOKING_RULES, bookingRules } from './reservations/booking-rules';
import { Reservation } from './reservations/reservation.entity';
import { ReservationsController } from './reservations/reservations.controller';
import { ReservationsService } from './reservations/reservations.service';

export const RESERVATION_MIGRATIONS = [
  CreateReservationSchema1764000000000,
  SeedListings1764000000001,
  ExactIdentifiers1765000000000,
  PerUserIdempotencyKeys1766000000000,
  PerUserBookingCap1766000000001,
];

@Module({})
export class AppModule {
  static forRoot(config: ReservationConfig): DynamicModule {
    const clients = ClientsModule.forRoot(config);
    return {
      module: AppModule,
      imports: [
        ...platformImports(config, {
          entities: [Listing, Reservation],
          flagDefaults: CLIENT_FLAG_DEFAULTS,
        }),
        clients,
        { ...WorkersModule.forRoot(config), imports: [clients] },
      ],
      controllers: [ListingsController, ReservationsController],
      providers: [
        ListingsService,
        ReservationsService,
        { provide: BOOKING_RULES, useValue: bookingRules(config) },
      ],
    };
  }
}

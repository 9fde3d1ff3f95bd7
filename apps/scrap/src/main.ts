/**
 * scrap: saves pages for a user (a token's subject) with their OpenGraph card,
 * behind an SSRF guard; each user lists and deletes only their own.
 */
import './tracing';
import { runService } from '@stayline/service-runtime';
import { AppModule, SCRAP_MIGRATIONS } from './app.module';
import { scrapConfig } from './config';

void runService('scrap', scrapConfig, (c) => AppModule.forRoot(c), SCRAP_MIGRATIONS);

/**
 * A tiny Nest service over the ReplicaRouter, run as a separate process by the
 * cross-process read-your-writes test:
 *   STAYLINE_DB_OPTIONS='{"database":...}' node scripts/run.cjs libs/database/src/testing/notes-app.ts
 * Prints `{"port":N}` once it listens.
 */
import 'reflect-metadata';
import { AddressInfo } from 'node:net';
import { Body, Controller, Get, Module, NotFoundException, Param, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { pino } from 'pino';
import { z } from 'zod';
import { DatabaseModule } from '../lib/nest/database.module';
import { ReplicaRouter } from '../lib/replica-router';
import { ReplicaRouterOptions } from '../lib/router-options';
import { Note, serverId } from './notes';

const newNote = z.object({ id: z.string().regex(/^[\w-]{1,64}$/), body: z.string().max(255) });

@Controller('notes')
class NotesController {
  constructor(private readonly db: ReplicaRouter) {}

  @Post()
  async create(@Body() input: unknown): Promise<{ id: string; servedBy: number }> {
    const note = newNote.parse(input);
    const servedBy = await this.db.transaction(async (m) => {
      await m.insert(Note, note);
      return serverId(m);
    });
    return { id: note.id, servedBy };
  }

  @Get(':id')
  async find(@Param('id') id: string): Promise<Note & { servedBy: number }> {
    const { note, servedBy } = await this.db.read(async (m) => ({
      note: await m.findOneBy(Note, { id }),
      servedBy: await serverId(m),
    }));
    if (!note) throw new NotFoundException({ message: `no note ${id}`, servedBy });
    return { ...note, servedBy };
  }
}

function options(): ReplicaRouterOptions {
  const raw = process.env['STAYLINE_DB_OPTIONS'];
  if (!raw) throw new Error('STAYLINE_DB_OPTIONS is not set');
  return {
    ...(JSON.parse(raw) as ReplicaRouterOptions),
    entities: [Note],
    logger: pino({ level: 'warn' }),
  };
}

@Module({
  imports: [DatabaseModule.forRootAsync({ useFactory: options })],
  controllers: [NotesController],
})
class NotesAppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create(NotesAppModule, { logger: ['error'] });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
}

void main();

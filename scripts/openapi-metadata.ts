/**
 * Regenerates what the OpenAPI document at /api/docs is derived from, with the
 * @nestjs/swagger CLI plugin's own visitor (the repo compiles with SWC, so the
 * plugin cannot run as a TypeScript transformer). Nest's answer for SWC is a
 * generated metadata file (`PluginMetadataGenerator` of @nestjs/cli); rather
 * than install the whole CLI for it, this script runs the plugin's visitor and
 * prints what it collected as that file, in the shape `loadPluginMetadata` reads:
 *
 * - apps/reservation/src/metadata.ts: the plugin metadata of reservation's DTOs
 *   and controllers (types, required, lengths and bounds read from the
 *   class-validator decorators, descriptions from comments), loaded at runtime
 *   by `SwaggerModule.loadPluginMetadata`.
 * - apps/reservation/src/openapi.services.ts: the public routes of payment,
 *   recommendation and scrap as Nest scans them from their controllers, with
 *   their DTOs' plugin metadata, kept as plain data: reservation never imports
 *   another app's code, this script reads it at generation time.
 *
 *   node scripts/run.cjs scripts/openapi-metadata.ts          # write both files
 *   node scripts/run.cjs scripts/openapi-metadata.ts --check  # exit 1 if either is stale
 */
import { INestApplication, InjectionToken, Module, Type } from '@nestjs/common';
import {
  GUARDS_METADATA,
  PATH_METADATA,
  SELF_DECLARED_DEPS_METADATA,
} from '@nestjs/common/constants';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { NestFactory } from '@nestjs/core';
import { GATEWAY_ROUTES } from '@stayline/gateway';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as prettier from 'prettier';
import * as ts from 'typescript';

// the package exports its plugin as `@nestjs/swagger/plugin`; its types sit in dist/plugin
const { ReadonlyVisitor } =
  require('@nestjs/swagger/plugin') as typeof import('@nestjs/swagger/dist/plugin');

const ROOT = path.resolve(__dirname, '..');
const OUT_DIR = path.join(ROOT, 'apps/reservation/src');
const METADATA_FILE = path.join(OUT_DIR, 'metadata.ts');
const SERVICES_FILE = path.join(OUT_DIR, 'openapi.services.ts');
/** The services whose public routes reservation's document describes without importing them. */
const OTHER_SERVICES = ['payment', 'recommendation', 'scrap', 'auth'] as const;
const PLUGIN_OPTIONS = { introspectComments: true, dtoFileNameSuffix: ['.dto.ts'] };

type Meta = Record<string, Array<[ts.CallExpression, unknown]>>;

function program(apps: readonly string[]): ts.Program {
  const files = apps.flatMap((app) =>
    ts.sys
      .readDirectory(path.join(ROOT, 'apps', app, 'src'), ['.ts'])
      .filter((f) => /\.(dto|controller)\.ts$/.test(f)),
  );
  const parsed = ts.getParsedCommandLineOfConfigFile(
    path.join(ROOT, 'tsconfig.base.json'),
    undefined,
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  return ts.createProgram({ rootNames: files.sort(), options: parsed?.options ?? {} });
}

/** The plugin metadata of one app's DTOs and controllers, as Nest's metadata.ts source. */
function metadataSource(prog: ts.Program, app: string): string {
  const src = path.join(ROOT, 'apps', app, 'src');
  const visitor = new ReadonlyVisitor({ ...PLUGIN_OPTIONS, pathToSource: src });
  for (const sf of prog.getSourceFiles()) {
    if (!sf.isDeclarationFile && sf.fileName.startsWith(src + '/')) visitor.visit(prog, sf);
  }
  const f = ts.factory;
  const prop = (key: string, meta: unknown): ts.PropertyAssignment => {
    const value = Array.isArray(meta)
      ? f.createArrayLiteralExpression(
          (meta as Array<[ts.CallExpression, Record<string, unknown>]>).map(([imp, m]) =>
            f.createArrayLiteralExpression([
              imp,
              f.createObjectLiteralExpression(Object.keys(m).map((k) => prop(k, m[k]))),
            ]),
          ),
        )
      : ts.isObjectLiteralExpression(meta as ts.Node)
        ? (meta as ts.ObjectLiteralExpression)
        : f.createObjectLiteralExpression(
            Object.keys(meta as object).map((k) => prop(k, (meta as Record<string, unknown>)[k])),
          );
    return f.createPropertyAssignment(f.createStringLiteral(key), value);
  };
  const types = Object.entries(visitor.typeImports as Record<string, string>).map(([k, v]) =>
    f.createPropertyAssignment(
      f.createComputedPropertyName(f.createStringLiteral(k)),
      f.createIdentifier(v),
    ),
  );
  // Nest's printer always declares `t`; left out when empty, for noUnusedLocals
  const typeImports = types.length
    ? [
        f.createVariableStatement(
          undefined,
          f.createVariableDeclarationList(
            [
              f.createVariableDeclaration(
                't',
                undefined,
                undefined,
                f.createObjectLiteralExpression(types, true),
              ),
            ],
            ts.NodeFlags.Const,
          ),
        ),
      ]
    : [];
  const body = f.createBlock(
    [
      ...typeImports,
      f.createReturnStatement(
        f.createObjectLiteralExpression([prop(visitor.key, visitor.collect() as Meta)]),
      ),
    ],
    true,
  );
  const fn = f.createExportAssignment(
    undefined,
    undefined,
    f.createArrowFunction(
      [f.createToken(ts.SyntaxKind.AsyncKeyword)],
      undefined,
      [],
      undefined,
      f.createToken(ts.SyntaxKind.EqualsGreaterThanToken),
      body,
    ),
  );
  const printer = ts.createPrinter({ newLine: ts.NewLineKind.LineFeed });
  const sf = ts.createSourceFile(
    'metadata.ts',
    '',
    ts.ScriptTarget.Latest,
    false,
    ts.ScriptKind.TS,
  );
  return (
    '// Generated by `npm run openapi:metadata` (scripts/openapi-metadata.ts): do not edit.\n' +
    printer.printNode(ts.EmitHint.Unspecified, fn, sf) +
    '\n'
  );
}

/** Loads a metadata.ts source of `app` as if it sat in the app's src folder. */
async function loadMetadata(app: string, source: string): Promise<void> {
  const at = path.join(ROOT, 'apps', app, 'src', 'metadata.ts');
  const js = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const mod = { exports: {} as { default: () => Promise<Record<string, unknown>> } };
  new Function('exports', 'require', 'module', js)(mod.exports, createRequire(at), mod);
  await SwaggerModule.loadPluginMetadata(mod.exports.default);
}

/** The controllers of an app, with stand-ins for what they inject: only their routes are read. */
async function scan(app: string): Promise<INestApplication> {
  const req = createRequire(path.join(ROOT, 'apps', app, 'src', 'main.ts'));
  const controllers = ts.sys
    .readDirectory(path.join(ROOT, 'apps', app, 'src'), ['.ts'])
    .filter((f) => f.endsWith('.controller.ts'))
    .sort()
    .flatMap((f) => Object.values(req(f) as Record<string, unknown>))
    .filter((c): c is Type => typeof c === 'function' && Reflect.hasMetadata(PATH_METADATA, c))
    // admin routes are never public, and their guard needs the real token to be made
    .filter((c) => !/^\/?admin(\/|$)/.test(String(Reflect.getMetadata(PATH_METADATA, c))));
  // the guards they name are instantiated with them: their dependencies are stubbed too
  const guards = controllers
    .flatMap((c) => [c, ...Object.getOwnPropertyNames(c.prototype).map((m) => c.prototype[m])])
    .flatMap((target) => (Reflect.getMetadata(GUARDS_METADATA, target) as unknown[]) ?? [])
    .filter((g): g is Type => typeof g === 'function');
  // a constructor parameter's token: its @Inject() token when it has one, else its type
  const tokensOf = (t: Type) => {
    const types = (Reflect.getMetadata('design:paramtypes', t) as Type[] | undefined) ?? [];
    const own = (Reflect.getMetadata(SELF_DECLARED_DEPS_METADATA, t) ?? []) as Array<{
      index: number;
      param: InjectionToken;
    }>;
    return types.map(
      (type, i) => (own.find((d) => d.index === i)?.param ?? type) as InjectionToken,
    );
  };
  const deps = [...controllers, ...guards].flatMap(tokensOf);
  class ScanModule {}
  Module({
    controllers,
    providers: [...new Set(deps)].map((d) => ({ provide: d, useValue: {} })),
  })(ScanModule);
  return NestFactory.create(ScanModule, { logger: false });
}

/** The other services' public routes and the schemas they reference, as plain data. */
async function servicesSource(prog: ts.Program): Promise<string> {
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  for (const service of OTHER_SERVICES) {
    await loadMetadata(service, metadataSource(prog, service));
    const app = await scan(service);
    const doc = SwaggerModule.createDocument(app, new DocumentBuilder().build());
    await app.close();
    const prefixes = GATEWAY_ROUTES.filter((r) => r.service === service).map((r) => r.prefix);
    for (const [p, item] of Object.entries(doc.paths)) {
      if (!prefixes.some((prefix) => p === prefix || p.startsWith(prefix + '/'))) continue;
      paths[p] = Object.fromEntries(
        Object.entries(item).map(([method, op]) => [method, { ...op, tags: [service] }]),
      );
    }
    Object.assign(schemas, doc.components?.schemas);
  }
  const used = JSON.stringify(paths);
  const referenced = Object.fromEntries(
    Object.entries(schemas).filter(([name]) => used.includes(`"#/components/schemas/${name}"`)),
  );
  return (
    '// Generated by `npm run openapi:metadata` (scripts/openapi-metadata.ts): do not edit.\n' +
    '// The public routes of ' +
    OTHER_SERVICES.join(', ') +
    ' as Nest scans their controllers and DTOs.\n' +
    'export const SERVICES_OPENAPI: {\n' +
    '  paths: Record<string, Record<string, Record<string, unknown>>>;\n' +
    '  schemas: Record<string, unknown>;\n' +
    `} = ${JSON.stringify({ paths, schemas: referenced })};\n`
  );
}

async function format(file: string, source: string): Promise<string> {
  const options = await prettier.resolveConfig(file);
  return prettier.format(source, { ...options, filepath: file });
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const prog = program(['reservation', ...OTHER_SERVICES]);
  const outputs: Array<[string, string]> = [
    [METADATA_FILE, await format(METADATA_FILE, metadataSource(prog, 'reservation'))],
    [SERVICES_FILE, await format(SERVICES_FILE, await servicesSource(prog))],
  ];
  let stale = 0;
  for (const [file, text] of outputs) {
    const rel = path.relative(ROOT, file);
    let current = '';
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      // not generated yet
    }
    if (current === text) continue;
    if (check) {
      stale++;
      console.error(`${rel} is stale: run \`npm run openapi:metadata\``);
    } else {
      writeFileSync(file, text);
      console.log(`wrote ${rel}`);
    }
  }
  process.exit(stale ? 1 : 0);
}

void main().catch((e) => {
  console.error(e);
  process.exit(2);
});

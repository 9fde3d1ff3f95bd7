/**
 * The hostile-input suite (`@stayline/stack-kit/suites`, hostile.ts) on the
 * compose stack: the same cases as the native run
 * (tools/stack-kit/src/hostile-requests.e2e-spec.ts) but the per-address limits,
 * which need clients nginx tells apart (here every client arrives through the
 * published port's proxy as one address, and the suites' driver raises those
 * limits for the load the other suites send).
 */
import { describeHostileRequests } from '@stayline/stack-kit/suites';
import { ComposeStack } from './lib/compose-stack';
import { composeGatewayTarget } from './lib/gateway-target';

jest.setTimeout(120_000);

describeHostileRequests('compose', () => composeGatewayTarget(ComposeStack.fromEnv()));

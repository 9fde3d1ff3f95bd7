/**
 * The error a service answers over TCP: the same `{ error, message }` as over
 * HTTP, plus its `status`. A 4xx is the caller's mistake and must not count as a
 * failure of the callee (its circuit breaker stays closed).
 */
export interface RpcErrorBody {
  status: number;
  error: string;
  message: string;
  requestId?: string;
}

export function isRpcErrorBody(value: unknown): value is RpcErrorBody {
  const v = value as RpcErrorBody;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.status === 'number' &&
    typeof v.error === 'string'
  );
}

export function isClientRpcError(value: unknown): boolean {
  return isRpcErrorBody(value) && value.status >= 400 && value.status < 500;
}

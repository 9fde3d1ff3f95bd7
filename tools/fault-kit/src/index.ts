/**
 * @stayline/fault-kit: what the fault tests and the demos drive through a
 * failure and measure: closed-loop HTTP loads, a stream of acknowledged writes
 * to MariaDB and to Redis that counts what an outage lost, and the rounds that
 * kill a primary under those streams and read the agents' reports. It stands
 * on the stack kit and the libraries; the libraries' own tests never need it.
 */
export * from './lib/load';
export * from './lib/write-stream';
export * from './lib/redis-stream';
export * from './lib/failover-rounds';

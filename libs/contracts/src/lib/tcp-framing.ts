/**
 * The bound on one `@nestjs/microservices` TCP message between stayline
 * processes, the same on both ends of every connection.
 *
 * Nest frames each message as `<length>#<json>` and keeps what a peer has sent
 * in memory until a whole frame is there. Without a bound a peer (a bug, or
 * anyone who reaches a TCP port) can announce and send a frame of hundreds of
 * megabytes and make the process hold it all. With it, once the data held for
 * one connection passes the bound the connection is closed and the data
 * dropped; other connections, and later ones from the same peer, are served
 * as before.
 *
 * The unit is the character of the decoded text, as Nest counts it: 1 Mi
 * characters is 1 MiB of ASCII JSON (everything stayline sends), at most 4 MiB
 * of UTF-8. The largest real message, a ranking request carrying one city's
 * listings, is a few kilobytes.
 */
export const TCP_MAX_MESSAGE_CHARS = 1024 * 1024;

/**
 * The framing options every TCP server (`connectMicroservice`) and client
 * (`ClientTCP`, `ClientProxyFactory.create`) in stayline is created with.
 *
 * @example
 *   new ClientTCP({ host, port, ...TCP_FRAMING });
 *   app.connectMicroservice({ transport: Transport.TCP, options: { host, port, ...TCP_FRAMING } });
 */
export const TCP_FRAMING: Readonly<{ maxBufferSize: number }> = Object.freeze({
  maxBufferSize: TCP_MAX_MESSAGE_CHARS,
});

import dgram from 'node:dgram';
import { parseIp } from '../scraping/ip-address';

/** What the fake server answers for a name: its addresses, or nothing at all ('silent'). */
export type FakeRecords = Record<string, { A?: string[]; AAAA?: string[] } | 'silent'>;

export interface FakeDns {
  /** `127.0.0.1:<port>`, for a resolver's servers. */
  server: string;
  /** How many queries arrived. */
  queries(): number;
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;

function addressBytes(address: string): Buffer {
  const ip = parseIp(address);
  if (!ip) throw new Error(`not an address: ${address}`);
  const out = Buffer.alloc(ip.family === 4 ? 4 : 16);
  for (let i = 0; i < out.length; i++)
    out[i] = Number((ip.value >> BigInt(8 * (out.length - 1 - i))) & 0xffn);
  return out;
}

/**
 * A DNS server on a local UDP port for tests: A and AAAA records from a table,
 * NXDOMAIN for names it does not know, and no answer at all for 'silent' ones
 * (a resolver that never answers).
 */
export async function startFakeDns(records: FakeRecords): Promise<FakeDns> {
  const socket = dgram.createSocket('udp4');
  let count = 0;
  socket.on('message', (msg, peer) => {
    count++;
    if (msg.length < 12) return;
    // the question: labels up to a zero byte, then type and class
    let at = 12;
    const labels: string[] = [];
    while (at < msg.length && msg[at] !== 0) {
      labels.push(msg.subarray(at + 1, at + 1 + msg[at]).toString('ascii'));
      at += 1 + msg[at];
    }
    const questionEnd = at + 5;
    if (questionEnd > msg.length) return;
    const type = msg.readUInt16BE(at + 1);
    const name = labels.join('.').toLowerCase();
    const entry = records[name];
    if (entry === 'silent') return;
    const addresses = entry
      ? ((type === TYPE_A ? entry.A : type === TYPE_AAAA ? entry.AAAA : []) ?? [])
      : [];
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2);
    header.writeUInt16BE(entry ? 0x8180 : 0x8183, 2); // answer, recursion; NXDOMAIN when unknown
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(addresses.length, 6);
    const answers = addresses.map((a) => {
      const data = addressBytes(a);
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // the name, pointing at the question's
      rr.writeUInt16BE(type, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(60, 6);
      rr.writeUInt16BE(data.length, 10);
      return Buffer.concat([rr, data]);
    });
    socket.send(
      Buffer.concat([header, msg.subarray(12, questionEnd), ...answers]),
      peer.port,
      peer.address,
    );
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return {
    server: `127.0.0.1:${socket.address().port}`,
    queries: () => count,
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}

// A central processor for the load-sharing test: consumes with NatsSource, "processes" each
// record (prints "<id> <redelivered>"), then acks. Killed with SIGKILL by the test.
import { NatsSource, parseNatsSourceUrl, type FleetDelivery } from '../../src/source/nats.js';
import { recordIdString } from '../../src/pipeline/types.js';

const src = new NatsSource(parseNatsSourceUrl(process.argv[2]!, 'argv'));
for await (const ev of src) {
  if (ev.kind !== 'records') continue;
  const out = ev.records.map((e) => `${recordIdString(e.id!)} ${(e.enrich?.['fleet'] as FleetDelivery).redelivered ? 1 : 0}\n`).join('');
  await new Promise<void>((r) => process.stdout.write(out, () => r()));
  src.ack(ev.records[ev.records.length - 1]!.id!);
}

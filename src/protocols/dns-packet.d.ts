// The parts of dns-packet 5.6.1 (CommonJS, untyped internals) that dns.ts uses: the per-part
// decoders, so a message is decoded section by section and a truncated additional section does
// not cost the answers. Every decoder throws on bytes it cannot read.
declare module 'dns-packet' {
  interface PartDecoder<T> {
    decode(buf: Buffer, offset?: number): T;
  }
  interface Bytes {
    bytes: number;
  }
  interface DnsPacketModule {
    name: { decode: ((buf: Buffer, offset?: number, opts?: { mail?: boolean }) => string) & Bytes };
    question: { decode: ((buf: Buffer, offset?: number) => { name: string; type: string; class: string }) & Bytes };
    /** the rdata decoder for a type name; `offset` points at RDLENGTH */
    /** tests build messages with it */
    encode(packet: unknown): Buffer;
    streamEncode(packet: unknown): Buffer;
    record(type: string): PartDecoder<unknown> & { decode: PartDecoder<unknown>['decode'] & Bytes };
  }
  const dnsPacket: DnsPacketModule;
  export default dnsPacket;
}

declare module 'dns-packet/types.js' {
  /** type number → name; unknown numbers give 'UNKNOWN_<n>' */
  export function toString(type: number): string;
}
declare module 'dns-packet/classes.js' {
  export function toString(klass: number): string;
}
declare module 'dns-packet/opcodes.js' {
  export function toString(opcode: number): string;
}
declare module 'dns-packet/rcodes.js' {
  export function toString(rcode: number): string;
}

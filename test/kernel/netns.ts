// Two private network namespaces joined by a veth pair, for kernel tests that need a wire they can
// tamper with (nftables) without touching the host's interfaces. Nothing leaves them.
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';

export const sh = (args: string[]): string => execFileSync(args[0]!, args.slice(1), { encoding: 'utf8' });

export interface VethPair {
  /** namespaces (A: client side, B: server side) and their veth ends */
  A: string; B: string; VA: string; VB: string;
  ipA: string; ipB: string;
  /** IPv6 addresses of the two ends (set only when asked for: vethPair(prefix, true)) */
  ip6A?: string; ip6B?: string;
  /** loads an nftables ruleset into namespace ns */
  nft(ns: string, ruleset: string): void;
  /** packets counted by the nft rule of namespace ns holding `comment "<comment>"` (NaN: none) */
  nftCount(ns: string, comment: string): number;
  /** deletes both namespaces (and with them the pair) */
  remove(): void;
}

/** Creates the pair; names start with prefix (keep it ≤ 5 characters: interface names have 15).
 * ipv6: the ends get IPv6 addresses too (nodad: usable at once). */
export function vethPair(prefix: string, ipv6 = false): VethPair {
  const tag = `${process.pid % 10000}${randomInt(100)}`;
  const A = `${prefix}A${tag}`, B = `${prefix}B${tag}`, VA = `${prefix}a${tag}`, VB = `${prefix}b${tag}`;
  const net = `10.${200 + randomInt(50)}.${randomInt(250)}`;
  const ipA = `${net}.1`, ipB = `${net}.2`;
  for (const ns of [A, B]) sh(['ip', 'netns', 'add', ns]);
  sh(['ip', 'link', 'add', VA, 'type', 'veth', 'peer', 'name', VB]);
  sh(['ip', 'link', 'set', VA, 'netns', A]);
  sh(['ip', 'link', 'set', VB, 'netns', B]);
  sh(['ip', '-n', A, 'addr', 'add', `${ipA}/24`, 'dev', VA]);
  sh(['ip', '-n', B, 'addr', 'add', `${ipB}/24`, 'dev', VB]);
  const net6 = `fd00:${randomInt(0x10000).toString(16)}:${randomInt(0x10000).toString(16)}:`;
  const ip6 = ipv6 ? { ip6A: `${net6}:1`, ip6B: `${net6}:2` } : {};
  if (ip6.ip6A && ip6.ip6B) {
    sh(['ip', '-n', A, 'addr', 'add', `${ip6.ip6A}/64`, 'dev', VA, 'nodad']);
    sh(['ip', '-n', B, 'addr', 'add', `${ip6.ip6B}/64`, 'dev', VB, 'nodad']);
  }
  for (const [ns, dev] of [[A, VA], [B, VB]] as const) {
    sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  }
  return {
    A, B, VA, VB, ipA, ipB, ...ip6,
    nft: (ns, ruleset) => { execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: ruleset }); },
    nftCount: (ns, comment) => {
      const line = sh(['ip', 'netns', 'exec', ns, 'nft', 'list', 'ruleset']).split('\n').find((l) => l.includes(`comment "${comment}"`));
      return Number(/counter packets (\d+)/.exec(line ?? '')?.[1]);
    },
    remove: () => { for (const ns of [A, B]) { try { sh(['ip', 'netns', 'del', ns]); } catch { /* not created */ } } },
  };
}

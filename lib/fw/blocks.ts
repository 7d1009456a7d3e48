/**
 * fw/blocks.ts — the layout of s: adapters concatenated in declaration order, and the simplices
 * (blocks) that the scope makes of them: one over everything, one per adapter, or one per named
 * group. Tested in test/unit/fw-blocks.test.ts.
 */
import { describe, int, invalid } from '../validate';
import type { AdapterSpec, Scope } from './types';

/** One adapter's place in s. */
export interface AdapterSlot {
  readonly name: string;
  readonly rank: number;
  readonly group: string | undefined;
  /** First index of this adapter in s. */
  readonly offset: number;
  /** Index of the block (simplex) this adapter belongs to. */
  readonly block: number;
}

/** One simplex S = ε·1 + τ·Δ of the product. */
export interface BlockSlot {
  /** 'global', the adapter name or the group name. */
  readonly name: string;
  /** Member adapters, ascending (their coordinates are ascending in s too). */
  readonly members: readonly number[];
  /** Dimension r: the sum of the members' ranks. */
  readonly rank: number;
  /**
   * Half-open index ranges [start, end) of this block in s, one per member (members[k] owns
   * ranges[2k], ranges[2k+1]), ascending: the hot loops walk these, and visiting them in order makes
   * "lowest index wins ties" hold across the whole block.
   */
  readonly ranges: Int32Array;
}

/** The layout of s for a set of adapters under a scope. */
export interface Layout {
  readonly scope: Scope;
  readonly adapters: readonly AdapterSlot[];
  readonly blocks: readonly BlockSlot[];
  /** Length of s: Σ ranks. */
  readonly dim: number;
}

/** Validates adapter declarations (where: the calling API, for messages). */
export function validateAdapters(where: string, adapters: unknown, scope: Scope): AdapterSpec[] {
  if (!Array.isArray(adapters) || adapters.length === 0) {
    invalid(where, 'adapters', 'a non-empty array of { name, rank, group? }', describe(adapters));
  }
  const seen = new Set<string>();
  const out: AdapterSpec[] = [];
  adapters.forEach((a: unknown, i: number) => {
    const arg = `adapters[${i}]`;
    if (typeof a !== 'object' || a === null) invalid(where, arg, 'an object { name, rank, group? }', describe(a));
    const { name, rank, group } = a as { name?: unknown; rank?: unknown; group?: unknown };
    if (typeof name !== 'string' || name.length === 0)
      invalid(where, `${arg}.name`, 'a non-empty string', describe(name));
    if (seen.has(name)) invalid(where, `${arg}.name`, 'a name not used by another adapter', `'${name}' again`);
    seen.add(name);
    int(where, `${arg}.rank`, rank, 1);
    if (group !== undefined && (typeof group !== 'string' || group.length === 0)) {
      invalid(where, `${arg}.group`, 'a non-empty string or undefined', describe(group));
    }
    if (scope === 'group' && group === undefined) {
      invalid(
        where,
        `${arg}.group`,
        "a group name (scope is 'group': every adapter belongs to one group)",
        'undefined',
      );
    }
    out.push(group === undefined ? { name, rank: rank as number } : { name, rank: rank as number, group });
  });
  return out;
}

/** Builds the layout (adapters already validated). */
export function buildLayout(adapters: readonly AdapterSpec[], scope: Scope): Layout {
  const blockNames: string[] = [];
  const blockMembers: number[][] = [];
  const index = new Map<string, number>();
  const slots: AdapterSlot[] = [];
  let offset = 0;
  adapters.forEach((a, i) => {
    const key = scope === 'global' ? 'global' : scope === 'adapter' ? a.name : (a.group as string);
    let b = index.get(key);
    if (b === undefined) {
      b = blockNames.length;
      index.set(key, b);
      blockNames.push(key);
      blockMembers.push([]);
    }
    (blockMembers[b] as number[]).push(i);
    slots.push({ name: a.name, rank: a.rank, group: a.group, offset, block: b });
    offset += a.rank;
  });
  const blocks: BlockSlot[] = blockNames.map((name, b) => {
    const members = blockMembers[b] as number[];
    const ranges: number[] = [];
    let rank = 0;
    for (const m of members) {
      const slot = slots[m] as AdapterSlot;
      rank += slot.rank;
      ranges.push(slot.offset, slot.offset + slot.rank);
    }
    return { name, members, rank, ranges: Int32Array.from(ranges) };
  });
  return { scope, adapters: slots, blocks, dim: offset };
}

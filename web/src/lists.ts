// Pure list logic shared by the views: the live transaction list (spec 7.4), the employee's sorted
// account list and its pagination (spec 7.5). No DOM, no network: unit-tested in lists.test.ts.
import type { Transaction } from './queries';

/** What a transaction list shows: newest first, plus the entry that just dropped off the end. */
export interface TxList {
  list: Transaction[];
  last: Transaction | null;
}

export const EMPTY_LIST: TxList = { list: [], last: null };

/**
 * Prepends a streamed transaction (spec 7.4): ignored if already listed, and when the list then
 * exceeds `max` the oldest entry is cut off and kept as `last` for its fade-out.
 */
export function prependTransaction(cur: TxList, t: Transaction, max: number): TxList {
  if (cur.list.some((x) => x.id === t.id)) return cur;
  const list = [t, ...cur.list];
  if (list.length <= max) return { list, last: null };
  return { list: list.slice(0, max), last: list[max] ?? null };
}

/** Adds IBANs to a sorted, duplicate-free list; returns the same array when nothing is new. */
export function mergeIbans(sorted: string[], more: string[]): string[] {
  const fresh = more.filter((i) => i && !sorted.includes(i));
  if (fresh.length === 0) return sorted;
  return [...new Set([...sorted, ...fresh])].sort();
}

export const PAGE_SIZE = 20;

/** The number of pages for `count` accounts: ceil(count / 20), at least 1. */
export function pageCount(count: number): number {
  return Math.max(1, Math.ceil(count / PAGE_SIZE));
}

/** One entry of the pagination bar: a page number, the current page, or an ellipsis. */
export type PageItem = { kind: 'page'; page: number } | { kind: 'current'; page: number } | { kind: 'ellipsis' };

/**
 * The pagination bar of the seed (spec 7.5): page 1 if page > 2; an ellipsis if page > 3; the
 * previous page if page > 1; the current page; the next page if page != total; an ellipsis if
 * total > page + 2; the last page if total > page + 1.
 */
export function paginationItems(page: number, total: number): PageItem[] {
  const items: PageItem[] = [];
  if (page > 2) items.push({ kind: 'page', page: 1 });
  if (page > 3) items.push({ kind: 'ellipsis' });
  if (page > 1) items.push({ kind: 'page', page: page - 1 });
  items.push({ kind: 'current', page });
  if (page !== total) items.push({ kind: 'page', page: page + 1 });
  if (total > page + 2) items.push({ kind: 'ellipsis' });
  if (total > page + 1) items.push({ kind: 'page', page: total });
  return items;
}

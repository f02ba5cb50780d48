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

/**
 * The order of the employee's account list: by account number, the digits a person reads after
 * the bank code (`NL66OPEN0000000000` is account 0000000000, the company, so it comes first), then
 * by the whole IBAN. Sorting on the whole text would order by the check digits, which mean nothing.
 */
export function compareAccounts(a: string, b: string): number {
  const na = a.slice(8);
  const nb = b.slice(8);
  if (na !== nb) return na < nb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Adds IBANs to a sorted, duplicate-free list; returns the same array when nothing is new. */
export function mergeIbans(sorted: string[], more: string[]): string[] {
  const fresh = more.filter((i) => i && !sorted.includes(i));
  if (fresh.length === 0) return sorted;
  return [...new Set([...sorted, ...fresh])].sort(compareAccounts);
}

/** The accounts whose IBAN contains the search text, ignoring spaces and case. */
export function searchAccounts(ibans: string[], query: string): string[] {
  const q = query.replace(/\s+/g, '').toUpperCase();
  return q === '' ? ibans : ibans.filter((i) => i.includes(q));
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

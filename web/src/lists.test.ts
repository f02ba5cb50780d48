import { describe, expect, it } from 'vitest';
import { compareAccounts, EMPTY_LIST, mergeIbans, pageCount, paginationItems, prependTransaction, searchAccounts, type TxList } from './lists';

const tx = (id: number) => ({ id, descr: `t${id}` });

describe('prependTransaction', () => {
  it('puts new transactions first and cuts to max items, keeping the dropped one as last', () => {
    let l: TxList = EMPTY_LIST;
    for (const id of [1, 2, 3]) l = prependTransaction(l, tx(id), 3);
    expect(l.list.map((t) => t.id)).toEqual([3, 2, 1]);
    expect(l.last).toBeNull();
    l = prependTransaction(l, tx(4), 3);
    expect(l.list.map((t) => t.id)).toEqual([4, 3, 2]);
    expect(l.last?.id).toBe(1);
    l = prependTransaction(l, tx(5), 3);
    expect(l.last?.id).toBe(2);
  });

  it('ignores a transaction that is already listed', () => {
    const l = prependTransaction(prependTransaction(EMPTY_LIST, tx(7), 5), tx(7), 5);
    expect(l.list.map((t) => t.id)).toEqual([7]);
  });
});

describe('mergeIbans', () => {
  it('keeps the list sorted and free of duplicates', () => {
    const a = mergeIbans([], ['NL66OPEN0000000000', 'NL17OPEN0094271884', 'NL66OPEN0000000000', '']);
    expect(a).toEqual(['NL66OPEN0000000000', 'NL17OPEN0094271884']);
    expect(mergeIbans(a, ['NL66OPEN0000000000'])).toBe(a);
    expect(mergeIbans(a, ['NL40OPEN0683772189'])).toEqual(['NL66OPEN0000000000', 'NL17OPEN0094271884', 'NL40OPEN0683772189']);
  });
});

describe('pagination', () => {
  const render = (page: number, total: number) =>
    paginationItems(page, total)
      .map((i) => (i.kind === 'ellipsis' ? '…' : i.kind === 'current' ? `[${i.page}]` : String(i.page)))
      .join(' ');

  it('has 20 accounts per page', () => {
    expect(pageCount(0)).toBe(1);
    expect(pageCount(20)).toBe(1);
    expect(pageCount(21)).toBe(2);
    expect(pageCount(46)).toBe(3);
  });

  it('follows the seed rules', () => {
    expect(render(1, 1)).toBe('[1]');
    expect(render(1, 2)).toBe('[1] 2');
    expect(render(2, 2)).toBe('1 [2]');
    expect(render(1, 3)).toBe('[1] 2 3');
    expect(render(1, 10)).toBe('[1] 2 … 10');
    expect(render(3, 10)).toBe('1 2 [3] 4 … 10');
    expect(render(5, 10)).toBe('1 … 4 [5] 6 … 10');
    expect(render(9, 10)).toBe('1 … 8 [9] 10');
    expect(render(10, 10)).toBe('1 … 9 [10]');
  });
});

describe('account order and search', () => {
  it('sorts by account number, the company first, not by check digits', () => {
    const a = mergeIbans([], ['NL17OPEN0094271884', 'NL66OPEN0000000000', 'NL40OPEN0683772189', 'NL93OPEN0012345678']);
    expect(a).toEqual(['NL66OPEN0000000000', 'NL93OPEN0012345678', 'NL17OPEN0094271884', 'NL40OPEN0683772189']);
    expect(compareAccounts('NL66OPEN0000000000', 'NL66OPEN0000000000')).toBe(0);
  });

  it('finds accounts by any part of the IBAN, ignoring spaces and case', () => {
    const a = ['NL66OPEN0000000000', 'NL17OPEN0094271884', 'NL40OPEN0683772189'];
    expect(searchAccounts(a, '')).toBe(a);
    expect(searchAccounts(a, '9427')).toEqual(['NL17OPEN0094271884']);
    expect(searchAccounts(a, 'nl40 open')).toEqual(['NL40OPEN0683772189']);
    expect(searchAccounts(a, 'open')).toEqual(a);
    expect(searchAccounts(a, 'x')).toEqual([]);
  });
});

// Every GraphQL operation the UI sends. 1-6 are the seed's operations (spec 7.8), with the same
// variables; the rest are beyond the seed (filters, balance, transfer status, live account list).
import { filterArguments, type Filters } from './filters';

/** The six optional transaction fields and their toggle labels (spec 7.3), in display order. */
export const FIELDS = [
  { key: 'iban', label: 'own account' },
  { key: 'new_balance', label: 'new balance' },
  { key: 'direction', label: 'debit/credit' },
  { key: 'from_to', label: 'other account' },
  { key: 'changed_by', label: 'amount changed' },
  { key: 'descr', label: 'description' },
] as const;

export type FieldKey = (typeof FIELDS)[number]['key'];
export type ShowFields = Record<FieldKey, boolean>;

/** A transaction as returned by the API; fields left out of the selection are absent. */
export interface Transaction {
  id: number;
  iban?: string | null;
  new_balance?: string | null;
  changed_by?: string | null;
  from_to?: string | null;
  descr?: string | null;
  direction?: 'DEBIT' | 'CREDIT' | null;
  /** When the money moved, ISO-8601 UTC; null from a server that does not fill it. */
  at?: string | null;
  /** The uuid of the transfer this transaction belongs to; null when there is none or it is not filled. */
  transfer?: string | null;
}

// `id`, `at` and `transfer` are always asked for: the id keys the list, the time and the transfer
// link are part of every box.
const SELECTION = FIELDS.map((f) => (f.key === 'direction' ? `direction @include(if: $show_direction) id` : `${f.key} @include(if: $show_${f.key})`)).join(' ') + ' at transfer';

const SHOW_VARS = FIELDS.map((f) => `$show_${f.key}: Boolean!`).join(', ');

const FILTER_TYPES: Record<string, string> = { direction: 'dtype', min_amount: 'Int', max_amount: 'Int', descr_includes: 'String' };

/** The declarations and arguments of the filters that are set. */
function filterParts(filters: Filters): { decl: string[]; use: string[] } {
  const decl: string[] = [];
  const use: string[] = [];
  for (const k of Object.keys(filterArguments(filters))) {
    decl.push(`$${k}: ${FILTER_TYPES[k]}`);
    use.push(`${k}: $${k}`);
  }
  return { decl, use };
}

/** 1. Entering the employee view. */
export const ALL_LAST_TRANSACTIONS = `query { all_last_transactions { iban } }`;

/**
 * 2. The newest `max_items` transactions of one IBAN with the selected fields; with filters, the
 * newest `max_items` of those that match (the server filters, so the list is full when it can be).
 */
export function listQuery(filters: Filters): string {
  const { decl, use } = filterParts(filters);
  return `query (${['$max_items: Int!', '$iban: String!', ...decl].join(', ')}, ${SHOW_VARS}) { transactions_by_iban(${['iban: $iban', 'max_items: $max_items', ...use].join(', ')}) { ${SELECTION} } }`;
}

/**
 * 3. The live transactions of one IBAN with the selected fields. Without filters this is the
 * seed's operation (plus `at transfer`); the filters that are set are added as arguments.
 */
export function streamQuery(filters: Filters): string {
  const { decl, use } = filterParts(filters);
  return `subscription (${['$iban: String!', ...decl].join(', ')}, ${SHOW_VARS}) { stream_transactions(${['iban: $iban', ...use].join(', ')}) { ${SELECTION} } }`;
}

/** 4. Log in, creating the user and an account when the username is new. */
export const GET_ACCOUNT = `mutation ($username: String!, $password: String!) { get_account(username: $username, password: $password) { reason iban token created } }`;

/**
 * 5. A cash deposit to the logged-in account. Unlike the seed (token "cash"), it carries the
 * account's token: this bank checks the depositor of a cash transfer (spec 9.2 F7, docs/domain.md).
 */
export const DEPOSIT = `mutation ($amount: Int!, $uuid: String!, $username: String!, $iban: String!, $token: String!) { money_transfer(amount: $amount, username: $username, descr: "deposit by re-graph", from: "cash", token: $token, to: $iban, uuid: $uuid) { reason success uuid } }`;

/** 6. A transfer from the logged-in account. */
export const TRANSFER = `mutation ($amount: Int!, $uuid: String!, $username: String!, $to: String!, $token: String!, $from: String!, $descr: String!) { money_transfer(amount: $amount, uuid: $uuid, username: $username, to: $to, token: $token, from: $from, descr: $descr) { reason success uuid } }`;

/** The state of a transfer whose mutation timed out or never got an answer (beyond the seed). */
export const TRANSFER_STATUS = `query ($uuid: String!) { transfer(uuid: $uuid) { state reason } }`;

/** A transfer looked up by uuid for its own page (beyond the seed). */
export const TRANSFER_DETAILS = `query ($uuid: String!) { transfer(uuid: $uuid) { uuid state reason amount from to descr } }`;

/** The balance of the logged-in account (beyond the seed). */
export const ACCOUNT_BALANCE = `query ($iban: String!, $token: String!) { account(iban: $iban, token: $token) { balance } }`;

/** The balance after each new transaction of one account (beyond the seed). */
export const STREAM_BALANCE = `subscription ($iban: String!) { stream_transactions(iban: $iban) { id iban new_balance } }`;

/** Every new transaction's IBAN, so the employee's account list grows live (beyond the seed). */
export const STREAM_ALL_IBANS = `subscription { stream_transactions { id iban } }`;

/** The `$show_*` variables for a field selection. */
export function showVariables(show: ShowFields): Record<string, boolean> {
  const vars: Record<string, boolean> = {};
  for (const f of FIELDS) vars[`show_${f.key}`] = show[f.key];
  return vars;
}

export interface MoneyTransferResult {
  uuid: string | null;
  success: boolean | null;
  reason: string | null;
}

export interface AccountResult {
  iban: string | null;
  token: string | null;
  reason: string | null;
  /** True when this login created the user and the account; null from a server that does not fill it. */
  created?: boolean | null;
}

export interface TransferDetails {
  uuid: string;
  state: TransferState;
  reason: string | null;
  amount: string | null;
  from: string | null;
  to: string | null;
  descr: string | null;
}

export type TransferState = 'STARTED' | 'COMPLETED' | 'FAILED';

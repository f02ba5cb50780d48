// Every GraphQL operation the UI sends. 1-6 are the seed's operations (spec 7.8), with the same
// variables; the rest are beyond the seed (filters, balance, transfer status, live account list).
import { type Filters, streamArguments } from './filters';

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
}

const SELECTION = `{ iban @include(if: $show_iban) new_balance @include(if: $show_new_balance) direction @include(if: $show_direction) id from_to @include(if: $show_from_to) changed_by @include(if: $show_changed_by) descr @include(if: $show_descr) }`;

const SHOW_VARS = `$show_iban: Boolean!, $show_new_balance: Boolean!, $show_direction: Boolean!, $show_from_to: Boolean!, $show_changed_by: Boolean!, $show_descr: Boolean!`;

/** 1. Entering the employee view. */
export const ALL_LAST_TRANSACTIONS = `query { all_last_transactions { iban } }`;

/** 2. The newest transactions of one IBAN with the selected fields. */
export const TRANSACTIONS_BY_IBAN = `query ($max_items: Int!, $iban: String!, ${SHOW_VARS}) { transactions_by_iban(iban: $iban, max_items: $max_items) ${SELECTION} }`;

/**
 * 3. The live transactions of one IBAN with the selected fields. Without filters this is the
 * seed's operation; the employee view's filters that are set are added as arguments.
 */
export function streamQuery(filters: Filters): string {
  const args = streamArguments(filters);
  const decl = ['$iban: String!'];
  const use = ['iban: $iban'];
  const types: Record<string, string> = { direction: 'dtype', min_amount: 'Int', max_amount: 'Int', descr_includes: 'String' };
  for (const k of Object.keys(args)) {
    decl.push(`$${k}: ${types[k]}`);
    use.push(`${k}: $${k}`);
  }
  const show = FIELDS.map((f) => `$show_${f.key}: Boolean!`).join(', ');
  const sel = FIELDS.map((f) => (f.key === 'direction' ? `direction @include(if: $show_direction) id` : `${f.key} @include(if: $show_${f.key})`)).join(' ');
  return `subscription (${decl.join(', ')}, ${show}) { stream_transactions(${use.join(', ')}) { ${sel} } }`;
}

/** 4. Log in, creating the user and an account when the username is new. */
export const GET_ACCOUNT = `mutation ($username: String!, $password: String!) { get_account(username: $username, password: $password) { reason iban token } }`;

/**
 * 5. A cash deposit to the logged-in account. Unlike the seed (token "cash"), it carries the
 * account's token: this bank checks the depositor of a cash transfer (spec 9.2 F7, docs/domain.md).
 */
export const DEPOSIT = `mutation ($amount: Int!, $uuid: String!, $username: String!, $iban: String!, $token: String!) { money_transfer(amount: $amount, username: $username, descr: "deposit by re-graph", from: "cash", token: $token, to: $iban, uuid: $uuid) { reason success uuid } }`;

/** 6. A transfer from the logged-in account. */
export const TRANSFER = `mutation ($amount: Int!, $uuid: String!, $username: String!, $to: String!, $token: String!, $from: String!, $descr: String!) { money_transfer(amount: $amount, uuid: $uuid, username: $username, to: $to, token: $token, from: $from, descr: $descr) { reason success uuid } }`;

/** The state of a transfer whose mutation timed out (beyond the seed). */
export const TRANSFER_STATUS = `query ($uuid: String!) { transfer(uuid: $uuid) { state reason } }`;

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
}

export type TransferState = 'STARTED' | 'COMPLETED' | 'FAILED';

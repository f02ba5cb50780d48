// Issue 15, several and shared accounts, through the GraphQL API only: accounts lists a user's
// accounts with the user's own token of each, open_account opens one more, add_owner shares an
// account with another user (who then sees it in accounts and may pay from it with its own token),
// remove_owner lets an owner leave with its own token; every refusal (wrong password or token,
// unknown user or IBAN, the company account, someone else's removal, the last owner) has a clear
// reason and changes nothing. Runs on `bank run` and on the split roles over NATS.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const COMPANY = 'NL66OPEN0000000000';
const UNKNOWN_OPEN = 'NL61OPEN0305797828';
const RESULT = 'iban token reason created';
const ACCOUNTS = `query($u: String!, $p: String!) { accounts(username: $u, password: $p) { ${RESULT} } }`;
const OPEN = `mutation($u: String!, $p: String!) { open_account(username: $u, password: $p) { ${RESULT} } }`;
const ADD = 'mutation($i: String!, $t: String!, $u: String!) { add_owner(iban: $i, token: $t, username: $u) { success reason } }';
const REMOVE = 'mutation($i: String!, $t: String!, $u: String!) { remove_owner(iban: $i, token: $t, username: $u) { success reason } }';

let bank;
before(async () => {
  bank = await h.startBank();
});
after(async () => {
  await bank.stop();
});

function errorOf(r) {
  assert.ok(r.errors && r.errors.length, 'expected an error, got ' + JSON.stringify(r.data));
  return r.errors[0].message;
}

// The user's accounts as { iban: token }.
async function accountsOf(u) {
  const list = (await h.gql(bank.url, ACCOUNTS, { u: u.username, p: u.password })).accounts;
  for (const a of list) assert.equal(a.reason, null);
  return Object.fromEntries(list.map((a) => [a.iban, a.token]));
}

async function addOwner(iban, token, username) {
  return (await h.gql(bank.url, ADD, { i: iban, t: token, u: username })).add_owner;
}

async function removeOwner(iban, token, username) {
  return (await h.gql(bank.url, REMOVE, { i: iban, t: token, u: username })).remove_owner;
}

async function owners(iban, token) {
  const r = await h.account(bank.url, iban, token);
  assert.ok(!r.errors, JSON.stringify(r.errors));
  return [...r.data.account.owners].sort();
}

test('accounts and open_account: a user with several accounts, each with its own token', async () => {
  const u = await h.newUserProjected(bank.url, 'acc');
  assert.deepEqual(await accountsOf(u), { [u.iban]: u.token });

  const r = (await h.gql(bank.url, OPEN, { u: u.username, p: u.password })).open_account;
  assert.equal(r.reason, null);
  assert.match(r.iban, /^NL\d\dOPEN\d{10}$/);
  assert.notEqual(r.iban, u.iban);
  assert.notEqual(r.token, u.token);
  assert.deepEqual(await accountsOf(u), { [u.iban]: u.token, [r.iban]: r.token });
  // the new account is there at once (the answer waited for the read model) and is the user's own
  assert.deepEqual(await owners(r.iban, r.token), [u.username]);
  const second = { ...u, iban: r.iban, token: r.token };
  assert.equal((await h.deposit(bank.url, second, 700)).success, true);
  const pay = await h.transfer(bank.url, { username: u.username, token: r.token, amount: 200, from: r.iban, to: u.iban, descr: 'between my accounts' });
  assert.equal(pay.success, true, pay.reason);
  await h.waitFor(async () => (await h.transactions(bank.url, u.iban)).length > 0, 'the credit to the first account');
  assert.equal((await h.account(bank.url, u.iban, u.token)).data.account.balance, '€2,00');
  assert.equal((await h.account(bank.url, r.iban, r.token)).data.account.balance, '€5,00');
  // one account's token is not the other's
  assert.equal(errorOf(await h.account(bank.url, r.iban, u.token)), 'token is not valid');
  // the login still answers the first account
  assert.deepEqual(await h.getAccount(bank.url, u.username, u.password), { iban: u.iban, token: u.token, reason: null });

  // refusals, nothing opened
  const wrong = (await h.gql(bank.url, OPEN, { u: u.username, p: 'wrong' })).open_account;
  assert.deepEqual(wrong, { iban: null, token: null, reason: 'invalid password', created: false });
  assert.equal(errorOf(await h.post(bank.url, ACCOUNTS, { u: u.username, p: 'wrong' })), 'invalid password');
  const nobody = (await h.gql(bank.url, OPEN, { u: 'nobody-' + Date.now(), p: 'x' })).open_account;
  assert.equal(nobody.iban, null);
  assert.equal(nobody.reason, 'username does not exist');
  assert.equal(Object.keys(await accountsOf(u)).length, 2);
});

test('open_account: at most 20 accounts per user', async () => {
  const u = await h.newUserProjected(bank.url, 'acc-many');
  for (let i = 2; i <= 20; i++) assert.equal((await h.gql(bank.url, OPEN, { u: u.username, p: u.password })).open_account.reason, null);
  const r = (await h.gql(bank.url, OPEN, { u: u.username, p: u.password })).open_account;
  assert.deepEqual(r, { iban: null, token: null, reason: 'a user may have at most 20 accounts', created: false });
  assert.equal(Object.keys(await accountsOf(u)).length, 20);
});

test('add_owner: the other user sees the shared account and pays from it with its own token', async () => {
  const u = await h.newUserProjected(bank.url, 'share');
  const v = await h.newUserProjected(bank.url, 'share-with');
  const w = await h.newUserProjected(bank.url, 'share-payee');
  assert.equal((await h.deposit(bank.url, u, 10000)).success, true);

  assert.deepEqual(await addOwner(u.iban, u.token, v.username), { success: true, reason: null });
  assert.deepEqual(await owners(u.iban, u.token), [u.username, v.username].sort());
  const mine = await accountsOf(v);
  assert.deepEqual(Object.keys(mine).sort(), [u.iban, v.iban].sort());
  const vToken = mine[u.iban];
  assert.notEqual(vToken, u.token, 'the added owner has a token of its own');
  assert.equal((await h.account(bank.url, u.iban, vToken)).data.account.balance, '€100,00');
  const pay = await h.transfer(bank.url, { username: v.username, token: vToken, amount: 2500, from: u.iban, to: w.iban, descr: 'from the shared account' });
  assert.equal(pay.success, true, pay.reason);
  await h.waitFor(async () => (await h.transactions(bank.url, w.iban)).length > 0, 'the credit to the payee');
  assert.equal((await h.account(bank.url, w.iban, w.token)).data.account.balance, '€25,00');
  assert.equal((await h.account(bank.url, u.iban, u.token)).data.account.balance, '€75,00');
  // u's token with v's name (or the other way round) pays nothing
  const mixed = await h.transfer(bank.url, { username: v.username, token: u.token, amount: 1, from: u.iban, to: w.iban, descr: 'mixed' });
  assert.equal(mixed.reason, 'token is not valid');

  // refusals, each changing nothing
  assert.deepEqual(await addOwner(u.iban, w.token, w.username), { success: false, reason: 'token is not valid' });
  assert.deepEqual(await addOwner(u.iban, 'x'.repeat(100), w.username), { success: false, reason: 'token is not valid' });
  assert.deepEqual(await addOwner(u.iban, u.token, v.username), { success: false, reason: 'user to add is already owner of bank account' });
  assert.deepEqual(await addOwner(u.iban, u.token, 'nobody-' + Date.now()), { success: false, reason: 'user to add does not exist' });
  assert.deepEqual(await addOwner(u.iban, u.token, ''), { success: false, reason: 'username should have 1 to 64 characters' });
  assert.deepEqual(await addOwner(UNKNOWN_OPEN, u.token, w.username), { success: false, reason: 'iban not known' });
  assert.deepEqual(await addOwner(COMPANY, u.token, w.username), { success: false, reason: 'the company account cannot be shared' });
  assert.deepEqual(await addOwner('nl66 open 0000 0000 00', u.token, w.username), { success: false, reason: 'the company account cannot be shared' });
  assert.deepEqual(await owners(u.iban, u.token), [u.username, v.username].sort());
  assert.deepEqual(Object.keys(await accountsOf(w)), [w.iban]);
});

test('remove_owner: an owner leaves with its own token; the last owner stays', async () => {
  const u = await h.newUserProjected(bank.url, 'leave');
  const v = await h.newUserProjected(bank.url, 'leave-too');
  const x = await h.newUserProjected(bank.url, 'leave-stranger');
  assert.equal((await addOwner(u.iban, u.token, v.username)).success, true);
  const vToken = (await accountsOf(v))[u.iban];

  // nobody removes another owner, a stranger, or with a token not of the account
  const other = 'an owner can only remove itself: the token is another owner\'s, not username\'s';
  assert.deepEqual(await removeOwner(u.iban, vToken, u.username), { success: false, reason: other });
  assert.deepEqual(await removeOwner(u.iban, u.token, v.username), { success: false, reason: other });
  assert.deepEqual(await removeOwner(u.iban, u.token, x.username), { success: false, reason: 'user to remove is not owner of bank account' });
  assert.deepEqual(await removeOwner(u.iban, x.token, v.username), { success: false, reason: 'token is not valid' });
  assert.deepEqual(await removeOwner(UNKNOWN_OPEN, vToken, v.username), { success: false, reason: 'iban not known' });
  assert.deepEqual(await owners(u.iban, u.token), [u.username, v.username].sort());

  // v leaves: its token of the account no longer works, and the account is no longer in its list
  assert.deepEqual(await removeOwner(u.iban, vToken, v.username), { success: true, reason: null });
  assert.deepEqual(await owners(u.iban, u.token), [u.username]);
  assert.deepEqual(Object.keys(await accountsOf(v)), [v.iban]);
  assert.equal(errorOf(await h.account(bank.url, u.iban, vToken)), 'token is not valid');
  const pay = await h.transfer(bank.url, { username: v.username, token: vToken, amount: 1, from: u.iban, to: x.iban, descr: 'gone' });
  assert.equal(pay.success, false);
  assert.equal((await removeOwner(u.iban, vToken, v.username)).success, false);

  // u is the last owner: it cannot leave, with money (the seed's reason) or without
  assert.deepEqual(await removeOwner(u.iban, u.token, u.username), { success: false, reason: 'the last owner cannot be removed: the account would have no owner' });
  assert.equal((await h.deposit(bank.url, u, 100)).success, true);
  await h.waitFor(async () => (await h.transactions(bank.url, u.iban)).length > 0, 'the deposit');
  assert.equal((await h.account(bank.url, u.iban, u.token)).data.account.balance, '€1,00');
  assert.deepEqual(await removeOwner(u.iban, u.token, u.username), { success: false, reason: 'last user and balance is not zero, so can\'t be removed' });
  assert.deepEqual(await owners(u.iban, u.token), [u.username]);
  assert.deepEqual(await accountsOf(u), { [u.iban]: u.token });

  // the owner changes are events of the account's history
  const hist = (await h.gql(bank.url, 'query($i: String!, $t: String!) { account_history(iban: $i, token: $t) { type } }', { i: u.iban, t: u.token })).account_history;
  assert.deepEqual(hist.map((e) => e.type).reverse(), ['BankAccountCreatedEvent', 'UserAddedToBankAccountEvent', 'UserRemovedFromBankAccountEvent', 'MoneyCreditedEvent']);
});

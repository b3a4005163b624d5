// A bank's ledger kept by one actor, and payments made by tasks: each deposits its amount, then
// writes a receipt. `node examples/sim/bank.mjs` balances every time. Under faults it does not: when
// a node dies after a payment's deposit went through but before the payment task returned, tsray
// retries the task (as Ray does), and the deposit is applied twice.
//
//   npx tsray sim examples/sim/bank.mjs --runs 100 --faults node-deaths     # finds a failing seed
//   npx tsray sim examples/sim/bank.mjs --seed N --faults node-deaths --shrink
//   npx tsray debug <the trace it wrote>                                    # why: the retry
//   BANK_FIXED=1 npx tsray sim examples/sim/bank.mjs --runs 1000 --faults node-deaths
//
// The fix: each payment carries an id, and the ledger applies a deposit once per id.
import * as tsray from 'tsray';

const fixed = process.env.BANK_FIXED === '1';
await tsray.init();

class Ledger {
  constructor() {
    this.balances = {};
    this.applied = new Set();
  }

  /** Adds `amount` to `account`; with a payment id, a repeated deposit of the same payment is a no-op. */
  deposit(account, amount, paymentId) {
    if (paymentId !== undefined) {
      if (this.applied.has(paymentId)) return this.balances[account];
      this.applied.add(paymentId);
    }
    this.balances[account] = (this.balances[account] ?? 0) + amount;
    return this.balances[account];
  }

  total() {
    return Object.values(this.balances).reduce((sum, balance) => sum + balance, 0);
  }
}

const pay = tsray.remote(
  async function pay(ledger, payment) {
    await tsray.get(ledger.deposit.remote(payment.account, payment.amount, payment.id));
    // Writing the receipt takes a while (a slow service, say): a crash here comes after the deposit.
    await new Promise((resolve) => setTimeout(resolve, 40));
    return `receipt ${payment.ref} for ${payment.amount} to ${payment.account}`;
  },
  { maxRetries: 3 },
);

// The ledger lives on the driver's node, beside the data it would keep on disk.
const { nodeId } = tsray.getRuntimeContext();
const ledger = tsray.remote(Ledger, { schedulingStrategy: { nodeId, soft: false } }).remote();
const payments = Array.from({ length: 24 }, (_, index) => ({
  ref: `p${index + 1}`,
  // The bug: without an id, the ledger cannot tell a retried deposit from a new one.
  id: fixed ? `p${index + 1}` : undefined,
  account: `acct${(index % 4) + 1}`,
  amount: 10 + index,
}));
const receipts = await tsray.get(payments.map((payment) => pay.remote(ledger, payment)));
const expected = payments.reduce((sum, payment) => sum + payment.amount, 0);
const total = await tsray.get(ledger.total.remote());
if (total !== expected) throw new Error(`the ledger holds ${total}, but the ${payments.length} payments add up to ${expected}: a deposit was applied twice`);
console.log(`${receipts.length} payments, ledger total ${total}: balanced`);
await tsray.shutdown();

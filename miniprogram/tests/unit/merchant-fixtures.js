// Shared by the cashier's page tests (one page per file: see merchant-today.test.js): a redemption as
// GET /merchant/redemptions answers it, and a manager's /merchant/me.
function redemption(id, amount, discount, status = 'done', extra = {}) {
  return Object.assign({id, amount, discount, payable: amount - discount, union_share: 0, merchant_share: discount,
    status, created_at: '2026-12-05T09:30:00+08:00', refunded: {amount: 0, discount: 0, union_share: 0, merchant_share: 0},
    lines: [], void_reason: null}, extra)
}

const MANAGER = {merchant: {id: 3, name: '老百姓大药房'}, store: null, role: 'manager',
  stores: [{id: 7, name: '东湖店'}, {id: 8, name: '西湖店'}]}

module.exports = {redemption, MANAGER}

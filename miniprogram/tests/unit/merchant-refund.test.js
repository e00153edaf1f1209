// 退款: a manager refunds part or all of a redemption picked in today's list (kept on the phone by
// that page). The server computes what comes back; the confirmation's Idempotency-Key is kept
// across lost answers and changes with the amount or the reason.
const {fakeServer} = require('../helpers/fake-server')
const pages = require('../helpers/pages')
const api = require('../../miniprogram/utils/api')

const {redemption, MANAGER} = require('./merchant-fixtures')

const PATH = '/merchant/redemptions/12/refunds'

// 100.00 yuan, 10.00 off, 20.00 of it refunded already: 80.00 left.
const BILL = redemption(12, 10000, 1000, 'done', {union_share: 600, merchant_share: 400,
  refunded: {amount: 2000, discount: 200, union_share: 120, merchant_share: 80},
  lines: [{category: 'drug', category_label: '药品', amount: 10000, discount: 1000, reason: ''}]})

// What the server answers a 30.00 refund: its figures, the page computes none of them.
const ANSWER = {id: 5, redemption_id: 12, amount: 3000, discount: 300, union_share: 180, merchant_share: 120,
  redemption: Object.assign({}, BILL, {refunded: {amount: 5000, discount: 500, union_share: 300, merchant_share: 200}})}

function keep(role = 'manager', kept = BILL) {
  wx.setStorageSync('unionaid.merchant', {merchant: MANAGER.merchant, store: null, role})
  wx.setStorageSync('unionaid.merchant.redemption', kept)
}

function refusal(status, code, message) {
  return {status, body: {error: {code, message, request_id: 'r'}}}
}

async function openRefund() {
  await api.signIn() // logged in already (today's list did), so a network failure hits the refund itself
  return pages.open('pages/merchant/refund', {id: '12'})
}

async function fill(page, amount, reason) {
  pages.type(page, '.refund__amount-input', amount)
  pages.type(page, '.refund__reason', reason)
  await pages.settle()
  pages.tap(page, '.refund__review')
  await pages.settle()
}

beforeEach(() => {
  wx.navigateBack = jest.fn()
  wx.redirectTo = jest.fn()
})

test('the bill, what was refunded and what is left; all that is left by default', async () => {
  fakeServer()
  keep()
  const page = await openRefund()
  expect(pages.textOf(page, '.refund__amount')).toBe('100.00 元')
  expect(pages.textOf(page, '.refund__discount')).toBe('10.00 元')
  expect(pages.textOf(page, '.refund__refunded')).toBe('20.00 元（已退优惠 2.00 元）')
  expect(pages.textOf(page, '.refund__left')).toBe('80.00 元')
  expect(pages.text(page)).toContain('药品')
  expect(page.instance.data.amountText).toBe('80.00')
})

test('a manager refunds part: the confirm step says it in words, then the server figures are shown', async () => {
  const server = fakeServer()
  server.on('POST', PATH, ANSWER)
  keep()
  const page = await openRefund()
  await fill(page, '30', ' 顾客退货 ')
  expect(server.calls('POST', PATH)).toHaveLength(0) // nothing is sent before the confirmation
  const summary = pages.textOf(page, '.refund__summary')
  expect(summary).toContain('将给持卡人退款 30.00 元')
  expect(summary).toContain('还可退 50.00 元')
  expect(summary).toContain('优惠额度')
  expect(summary).toContain('比例退回')
  pages.tap(page, '.refund__confirm')
  await pages.settle()
  const sent = server.calls('POST', PATH)
  expect(sent).toHaveLength(1)
  expect(sent[0].data).toEqual({amount: 3000, reason: '顾客退货'})
  expect(sent[0].header['Idempotency-Key']).toMatch(/^[0-9a-f]{32}$/)
  expect(pages.text(page)).toContain('退款成功')
  expect(pages.textOf(page, '.refund__result-amount')).toBe('30.00 元')
  expect(pages.textOf(page, '.refund__result-discount')).toBe('3.00 元')
  expect(pages.textOf(page, '.refund__result-union')).toBe('1.80 元')
  expect(pages.textOf(page, '.refund__result-merchant')).toBe('1.20 元')
  expect(wx.getStorageSync('unionaid.merchant.redemption').refunded.amount).toBe(5000)
  pages.tap(page, '.refund__back')
  await pages.settle()
  expect(wx.navigateBack).toHaveBeenCalled()
})

test('all that is left: said so in words', async () => {
  const server = fakeServer()
  server.on('POST', PATH, Object.assign({}, ANSWER, {amount: 8000}))
  keep()
  const page = await openRefund()
  pages.type(page, '.refund__reason', '整单退货')
  await pages.settle()
  pages.tap(page, '.refund__review')
  await pages.settle()
  expect(pages.textOf(page, '.refund__summary')).toContain('将给持卡人退款 80.00 元（这笔核销全部退清）')
  pages.tap(page, '.refund__confirm')
  await pages.settle()
  expect(server.calls('POST', PATH)[0].data).toEqual({amount: 8000, reason: '整单退货'})
})

test('a lost answer, then 重试: the same key and body; a 5xx and a 429 keep them too', async () => {
  const server = fakeServer()
  server.on('POST', PATH, ANSWER)
  keep()
  const page = await openRefund()
  await fill(page, '30.00', '顾客退货')
  server.failNext('timeout')
  pages.tap(page, '.refund__confirm')
  await pages.settle()
  expect(pages.text(page)).toContain('网络超时，请稍后重试')
  expect(pages.text(page)).toContain('不会重复退款')
  expect(pages.find(page, '.refund__confirm')).toBeNull()
  const first = server.calls('POST', PATH)[0]
  expect(page.instance.data.attemptKey).toBe(first.header['Idempotency-Key'])

  server.on('POST', PATH, {status: 502, body: 'bad gateway'})
  pages.tap(page, '.refund__retry')
  await pages.settle()
  expect(pages.text(page)).toContain('服务暂时不可用，请稍后重试')
  server.on('POST', PATH, refusal(429, 'rate_limited', '操作太频繁，请稍后再试'))
  pages.tap(page, '.refund__retry')
  await pages.settle()
  expect(pages.text(page)).toContain('操作太频繁，请稍后再试')
  server.on('POST', PATH, refusal(409, 'request_in_progress', '上一次请求还在处理中，请稍后重试'))
  pages.tap(page, '.refund__retry')
  await pages.settle()

  server.on('POST', PATH, ANSWER)
  pages.tap(page, '.refund__retry')
  await pages.settle()
  const calls = server.calls('POST', PATH)
  expect(calls).toHaveLength(5)
  calls.forEach((c) => {
    expect(c.header['Idempotency-Key']).toBe(first.header['Idempotency-Key'])
    expect(c.data).toEqual({amount: 3000, reason: '顾客退货'})
  })
  expect(pages.text(page)).toContain('退款成功')
  expect(page.instance.data.attemptKey).toBe('')
})

test('a changed amount or reason after a lost answer is a new attempt with a new key', async () => {
  const server = fakeServer()
  server.on('POST', PATH, ANSWER)
  keep()
  const page = await openRefund()
  await fill(page, '30', '顾客退货')
  server.failNext('offline')
  pages.tap(page, '.refund__confirm')
  await pages.settle()
  const first = server.calls('POST', PATH)[0].header['Idempotency-Key']

  pages.type(page, '.refund__amount-input', '25')
  await pages.settle()
  expect(page.instance.data.attemptKey).toBe('')
  expect(pages.find(page, '.refund__retry')).toBeNull()
  expect(pages.find(page, '.refund__confirm')).toBeNull() // the changed form is reviewed again first
  pages.tap(page, '.refund__review')
  await pages.settle()
  server.failNext('offline')
  pages.tap(page, '.refund__confirm')
  await pages.settle()
  const second = server.calls('POST', PATH)[1]
  expect(second.header['Idempotency-Key']).not.toBe(first)
  expect(second.data).toEqual({amount: 2500, reason: '顾客退货'})

  pages.type(page, '.refund__reason', '顾客退了一盒')
  await pages.settle()
  pages.tap(page, '.refund__review')
  await pages.settle()
  pages.tap(page, '.refund__confirm')
  await pages.settle()
  const third = server.calls('POST', PATH)[2]
  expect(third.header['Idempotency-Key']).not.toBe(first)
  expect(third.header['Idempotency-Key']).not.toBe(second.header['Idempotency-Key'])
  expect(third.data).toEqual({amount: 2500, reason: '顾客退了一盒'})
})

test('the phone refuses an amount above what is left, a bad amount or no reason, before any call', async () => {
  const server = fakeServer()
  server.on('POST', PATH, ANSWER)
  keep()
  const page = await openRefund()
  await fill(page, '80.01', '顾客退货')
  expect(pages.textOf(page, '.refund__error')).toBe('退款金额有误：请填写 0.01 到 80.00 元之间的金额（元，最多两位小数）')
  expect(pages.find(page, '.refund__confirm')).toBeNull()
  await fill(page, '0', '顾客退货')
  expect(pages.text(page)).toContain('退款金额有误')
  await fill(page, '1.234', '顾客退货')
  expect(pages.text(page)).toContain('退款金额有误')
  await fill(page, '10', '   ')
  expect(pages.textOf(page, '.refund__error')).toBe('请填写退款原因')
  await fill(page, '10', '退'.repeat(201))
  expect(pages.textOf(page, '.refund__error')).toBe('退款原因最多 200 个字，现在有 201 个字')
  expect(server.calls('POST', PATH)).toHaveLength(0)
})

test("a refusal from the server is shown as the server words it, and the form can be changed", async () => {
  const server = fakeServer()
  server.on('POST', PATH, refusal(422, 'refund_amount', '退款金额应在 0.01 到 50.00 元之间'))
  keep()
  const page = await openRefund()
  await fill(page, '80', '顾客退货')
  pages.tap(page, '.refund__confirm')
  await pages.settle()
  expect(pages.textOf(page, '.refund__error')).toBe('退款金额应在 0.01 到 50.00 元之间')
  expect(pages.find(page, '.refund__retry')).toBeNull()
  expect(page.instance.data.attemptKey).toBe('')
  expect(pages.find(page, '.refund__review')).not.toBeNull()

  server.on('POST', PATH, refusal(403, 'role_forbidden', '只有商家管理员可以退款'))
  await fill(page, '50', '顾客退货')
  pages.tap(page, '.refund__confirm')
  await pages.settle()
  expect(pages.textOf(page, '.refund__error')).toBe('只有商家管理员可以退款')
})

test('a cashier who reaches the page gets no refund form; a redemption not kept is said so', async () => {
  const server = fakeServer()
  keep('cashier')
  let page = await openRefund()
  expect(pages.text(page)).toContain('只有商家管理员可以退款')
  expect(pages.find(page, '.refund__form')).toBeNull()
  expect(pages.find(page, '.refund__confirm')).toBeNull()

  keep('manager', redemption(9, 1000, 100))
  page = await openRefund()
  expect(pages.text(page)).toContain('找不到这笔核销')
  expect(pages.find(page, '.refund__form')).toBeNull()

  keep('manager', Object.assign({}, BILL, {status: 'refunded', refunded: {amount: 10000, discount: 1000,
    union_share: 600, merchant_share: 400}}))
  page = await openRefund()
  expect(pages.text(page)).toContain('没有可退的金额')
  expect(pages.find(page, '.refund__form')).toBeNull()
  expect(server.calls('POST', PATH)).toHaveLength(0)
})

// -- opened without the bill kept (the app restarted, or a link): read by its number ---------------------------

const ONE = '/merchant/redemptions/12'
const shared = require('../../miniprogram/pages/merchant/shared')

// A phone whose app started afresh: no bill in storage, nor in memory (a test before kept one there).
function keepNone(role = 'manager') {
  shared.saveRedemption(null)
  wx.setStorageSync('unionaid.merchant', {merchant: MANAGER.merchant, store: null, role})
}

test('a bill not kept on the phone is read by its number, kept, and refunded as usual', async () => {
  const server = fakeServer()
  server.on('GET', ONE, BILL)
  server.on('POST', PATH, ANSWER)
  keepNone()
  const page = await openRefund()
  expect(server.calls('GET', ONE)).toHaveLength(1)
  expect(pages.text(page)).not.toContain('找不到这笔核销')
  expect(pages.textOf(page, '.refund__left')).toBe('80.00 元')
  expect(page.instance.data.amountText).toBe('80.00')
  expect(wx.getStorageSync('unionaid.merchant.redemption')).toMatchObject({id: 12, refunded: {amount: 2000}})
  await fill(page, '30', '顾客退货')
  pages.tap(page, '.refund__confirm')
  await pages.settle()
  expect(server.calls('POST', PATH)[0].data).toEqual({amount: 3000, reason: '顾客退货'})
  expect(pages.text(page)).toContain('退款成功')
})

test('another kept redemption is not this one: the page reads this one', async () => {
  const server = fakeServer()
  server.on('GET', ONE, BILL)
  keep('manager', redemption(9, 1000, 100))
  const page = await openRefund()
  expect(server.calls('GET', ONE)).toHaveLength(1)
  expect(pages.textOf(page, '.refund__amount')).toBe('100.00 元')
})

test('shows loading while reading; a 404 is the missing state', async () => {
  const server = fakeServer()
  let answer = null
  server.on('GET', ONE, () => answer)
  answer = {status: 404, body: {error: {code: 'redemption_not_found', message: '找不到该核销记录', request_id: 'r'}}}
  keepNone()
  await api.signIn()
  const page = pages.load('pages/merchant/refund')
  const loading = page.instance.onLoad({id: '12'})
  expect(page.instance.data.state).toBe('loading')
  expect(pages.text(page)).toContain('加载中')
  await loading
  await pages.settle()
  expect(pages.text(page)).toContain('找不到这笔核销')
  expect(pages.find(page, '.refund__form')).toBeNull()
})

test('a network failure offers 重试, which reads the bill again', async () => {
  const server = fakeServer()
  server.on('GET', ONE, BILL)
  keepNone()
  await api.signIn()
  server.failNext('timeout')
  const page = await pages.open('pages/merchant/refund', {id: '12'})
  expect(pages.text(page)).toContain('网络超时，请稍后重试')
  expect(pages.find(page, '.refund__form')).toBeNull()
  pages.tap(page, '#status >>> .status-view__retry')
  await pages.settle()
  expect(server.calls('GET', ONE)).toHaveLength(2)
  expect(pages.textOf(page, '.refund__left')).toBe('80.00 元')
})

test('a cashier, or a number that is no number, sends nothing; only a manager\'s real number is read', async () => {
  const server = fakeServer()
  server.on('GET', /^\/merchant\/redemptions\//, BILL)
  keepNone('cashier')
  await api.signIn()
  let page = await pages.open('pages/merchant/refund', {id: '12'})
  expect(pages.text(page)).toContain('只有商家管理员可以退款')
  keepNone()
  for (const id of [undefined, '', 'abc', '0', '-1']) {
    page = await pages.open('pages/merchant/refund', id === undefined ? {} : {id})
    expect(pages.text(page)).toContain('找不到这笔核销')
  }
  expect(server.calls('GET').filter((c) => c.path.startsWith('/merchant/redemptions/'))).toHaveLength(0)
  page = await pages.open('pages/merchant/refund', {id: '12'})
  expect(server.calls('GET').map((c) => c.path)).toContain(ONE)
  expect(pages.textOf(page, '.refund__left')).toBe('80.00 元')
})

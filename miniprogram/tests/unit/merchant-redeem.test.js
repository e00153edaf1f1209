const {fakeServer} = require('../helpers/fake-server')
const pages = require('../helpers/pages')

const SCAN_ID = 'scan-0123456789abcdef'

function keepScan(seconds = 300) {
  wx.setStorageSync('unionaid.merchant.scan', {
    scan_id: SCAN_ID,
    expires_at: new Date(Date.now() + seconds * 1000).toISOString(),
    card: {holder: '王*英', status: 'active', card_no_tail: '0021', printed: false},
    benefits: [{program_id: 1, program: '药品卡', summary: '药品卡内补贴 100%', period: 'year',
      remaining: {money: 46997, count: null}, quota: {money: 50000, count: null}, categories: ['drug']}],
  })
}

// What the server quotes and redeems: the page shows these figures, it computes none of them.
const FIGURES = {amount: 4002, discount: 3003, payable: 999, union_share: 2553, merchant_share: 450,
  lines: [
    {category: 'drug', category_label: '药品', amount: 3003, discount: 3003, reason: '药品卡内补贴 100%'},
    {category: 'other', category_label: '其他', amount: 999, discount: 0, reason: '不在优惠范围'},
  ]}

function refusal(status, code, message, details) {
  return {status, body: {error: {code, message, request_id: 'r', details}}}
}

beforeEach(() => {
  wx.navigateBack = jest.fn()
  wx.redirectTo = jest.fn()
})

async function openWithBill(server) {
  keepScan()
  const page = await pages.open('pages/merchant/redeem', {scan_id: SCAN_ID})
  pages.type(page, '.redeem__amount', '30.03')
  await pages.settle()
  pages.tap(page, '.redeem__add')
  await pages.settle()
  const categories = page.instance.data.categories.map((c) => c.code)
  expect(categories).toEqual(['drug', 'other'])
  page.instance.onCategory({currentTarget: {dataset: {index: 1}}, detail: {value: 1}})
  page.instance.onAmount({currentTarget: {dataset: {index: 1}}, detail: {value: '9.99'}})
  await pages.settle()
  return page
}

test('the holder, the card and its benefits; the quote is shown before confirming', async () => {
  const server = fakeServer()
  server.on('POST', '/merchant/quotes', FIGURES)
  server.on('POST', '/merchant/redemptions', Object.assign({id: 41, status: 'done'}, FIGURES))
  const page = await openWithBill(server)
  let text = pages.text(page)
  expect(text).toContain('王*英')
  expect(text).toContain('正常')
  expect(text).toContain('药品卡内补贴 100%')
  expect(text).toContain('本期余额 469.97 元')
  expect(pages.find(page, '.redeem__confirm')).toBeNull() // nothing to confirm before the quote
  pages.tap(page, '.redeem__quote')
  await pages.settle()
  expect(server.calls('POST', '/merchant/quotes')[0].data).toEqual({scan_id: SCAN_ID,
    items: [{category: 'drug', amount: 3003}, {category: 'other', amount: 999}]})
  text = pages.text(page)
  expect(pages.textOf(page, '.redeem__quote-discount')).toBe('30.03 元')
  expect(pages.textOf(page, '.redeem__quote-payable')).toBe('9.99 元')
  expect(pages.textOf(page, '.redeem__quote-union')).toBe('25.53 元')
  expect(pages.textOf(page, '.redeem__quote-merchant')).toBe('4.50 元')
  expect(server.calls('POST', '/merchant/redemptions')).toHaveLength(0)
  pages.tap(page, '.redeem__confirm')
  await pages.settle()
  const sent = server.calls('POST', '/merchant/redemptions')
  expect(sent).toHaveLength(1)
  expect(sent[0].data).toEqual(server.calls('POST', '/merchant/quotes')[0].data)
  expect(sent[0].header['Idempotency-Key']).toMatch(/^[0-9a-f]{32}$/)
  text = pages.text(page)
  expect(text).toContain('核销成功')
  expect(pages.textOf(page, '.redeem__result-amount')).toBe('40.02 元')
  expect(pages.textOf(page, '.redeem__result-payable')).toBe('9.99 元')
  expect(wx.getStorageSync('unionaid.merchant.scan')).toBe('')
})

test('a retry after a network error sends the same Idempotency-Key; a changed bill a new one', async () => {
  const server = fakeServer()
  server.on('POST', '/merchant/quotes', FIGURES)
  server.on('POST', '/merchant/redemptions', Object.assign({id: 41, status: 'done'}, FIGURES))
  const page = await openWithBill(server)
  pages.tap(page, '.redeem__quote')
  await pages.settle()
  server.failNext('timeout')
  pages.tap(page, '.redeem__confirm')
  await pages.settle()
  expect(pages.text(page)).toContain('网络超时，请稍后重试')
  expect(pages.text(page)).toContain('不会重复核销')
  const first = server.calls('POST', '/merchant/redemptions')[0].header['Idempotency-Key']
  expect(page.instance.data.attemptKey).toBe(first)

  // 重试 after a second failure (offline), then a 502: still the same key every time.
  server.failNext('offline')
  pages.tap(page, '.redeem__retry')
  await pages.settle()
  server.on('POST', '/merchant/redemptions', {status: 502, body: 'bad gateway'})
  pages.tap(page, '.redeem__retry')
  await pages.settle()
  expect(pages.text(page)).toContain('服务暂时不可用，请稍后重试')

  // The cashier changes the bill instead: a new attempt, quoted again, with a new key.
  server.on('POST', '/merchant/redemptions', Object.assign({id: 41, status: 'done'}, FIGURES))
  pages.type(page, '.redeem__amount', '30.04')
  await pages.settle()
  expect(page.instance.data.quote).toBeNull()
  expect(page.instance.data.attemptKey).toBe('')
  expect(pages.find(page, '.redeem__confirm')).toBeNull()
  pages.tap(page, '.redeem__quote')
  await pages.settle()
  pages.tap(page, '.redeem__confirm')
  await pages.settle()
  const keys = server.calls('POST', '/merchant/redemptions').map((c) => c.header['Idempotency-Key'])
  expect(keys.slice(0, 3)).toEqual([first, first, first])
  expect(keys[3]).not.toBe(first)
  expect(server.calls('POST', '/merchant/redemptions')[3].data.items[0]).toEqual({category: 'drug', amount: 3004})
  expect(pages.text(page)).toContain('核销成功')
})

test('a retry that succeeds answers the redemption once', async () => {
  const server = fakeServer()
  server.on('POST', '/merchant/quotes', FIGURES)
  server.on('POST', '/merchant/redemptions', Object.assign({id: 41, status: 'done'}, FIGURES))
  const page = await openWithBill(server)
  pages.tap(page, '.redeem__quote')
  await pages.settle()
  server.failNext('offline')
  pages.tap(page, '.redeem__confirm')
  await pages.settle()
  pages.tap(page, '.redeem__retry')
  await pages.settle()
  const calls = server.calls('POST', '/merchant/redemptions')
  expect(calls).toHaveLength(2)
  expect(calls[1].header['Idempotency-Key']).toBe(calls[0].header['Idempotency-Key'])
  expect(pages.text(page)).toContain('核销成功')
  expect(page.instance.data.attemptKey).toBe('')
})

test('no benefit on the quote: the reasons line by line, and nothing to confirm', async () => {
  const server = fakeServer()
  server.on('POST', '/merchant/quotes', refusal(422, 'no_benefit', '本次消费没有可享受的优惠，请按原价结算',
    [{category: 'other', category_label: '其他', amount: 999, discount: 0, reason: '不在优惠范围'}]))
  keepScan()
  const page = await pages.open('pages/merchant/redeem', {scan_id: SCAN_ID})
  pages.type(page, '.redeem__amount', '9.99')
  await pages.settle()
  pages.tap(page, '.redeem__quote')
  await pages.settle()
  expect(pages.text(page)).toContain('本次消费没有可享受的优惠，请按原价结算')
  expect(pages.text(page)).toContain('不在优惠范围')
  expect(pages.find(page, '.redeem__confirm')).toBeNull()
})

test('a refused redemption spends the scan: the message, and back to scan', async () => {
  const server = fakeServer()
  server.on('POST', '/merchant/quotes', FIGURES)
  server.on('POST', '/merchant/redemptions', refusal(409, 'quota_exhausted', '本期优惠额度已用完'))
  const page = await openWithBill(server)
  pages.tap(page, '.redeem__quote')
  await pages.settle()
  pages.tap(page, '.redeem__confirm')
  await pages.settle()
  expect(pages.text(page)).toContain('本期优惠额度已用完')
  expect(pages.text(page)).toContain('重新扫码')
  pages.tap(page, '.redeem__rescan')
  await pages.settle()
  expect(wx.navigateBack).toHaveBeenCalled()
})

test('an amount that is not one is refused on the phone, not sent', async () => {
  const server = fakeServer()
  keepScan()
  const page = await pages.open('pages/merchant/redeem', {scan_id: SCAN_ID})
  pages.type(page, '.redeem__amount', '12.345')
  await pages.settle()
  pages.tap(page, '.redeem__quote')
  await pages.settle()
  expect(pages.text(page)).toContain('第 1 项金额有误')
  expect(server.calls('POST', '/merchant/quotes')).toHaveLength(0)
})

test('the scan expires: said so, and back to scan', async () => {
  fakeServer()
  keepScan(-1)
  let page = await pages.open('pages/merchant/redeem', {scan_id: SCAN_ID})
  expect(pages.text(page)).toContain('扫码已超时')
  pages.tap(page, '.redeem__rescan')
  await pages.settle()
  expect(wx.navigateBack).toHaveBeenCalled()

  // Expiring while the cashier types: the page's timer says so.
  keepScan(0.2)
  page = await pages.open('pages/merchant/redeem', {scan_id: SCAN_ID})
  expect(pages.text(page)).not.toContain('扫码已超时')
  await new Promise((resolve) => setTimeout(resolve, 300))
  await pages.settle()
  expect(pages.text(page)).toContain('扫码已超时')

  // And the server saying so on the quote.
  const server = fakeServer()
  server.on('POST', '/merchant/quotes', refusal(422, 'scan_expired', '扫码已超时，请重新扫码'))
  keepScan()
  page = await pages.open('pages/merchant/redeem', {scan_id: SCAN_ID})
  pages.type(page, '.redeem__amount', '10')
  await pages.settle()
  pages.tap(page, '.redeem__quote')
  await pages.settle()
  expect(pages.text(page)).toContain('扫码已超时')
})

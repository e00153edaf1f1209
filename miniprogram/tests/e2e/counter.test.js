// The cashier's side against the real server (serve --demo, the WeChat sandbox): the union's admin
// invites a cashier to the demo counter (staff API); the cashier opens the invite's mini-program
// code (pages/merchant/bind?scene=CODE) and binds; a worker bound through the API shows the card
// page, whose data.qrToken the cashier's camera reads; the bill is quoted by the server, shown,
// confirmed, and the worker's redemptions page lists it; the spent code is then refused verbatim,
// and the cashier voids the redemption from today's list. Demo members [4] and [5] are this file's.
const realWx = require('../helpers/real-wx')
const pages = require('../helpers/pages')

const WORKER = 'mp-counter-worker'
const CASHIER = 'mp-counter-cashier'
const MANAGER = 'mp-counter-manager'

function data(page) {
  return page.instance.data
}

/** The admin's token and the demo counter's merchant and store (found by name). */
async function theCounter() {
  const {staff_password: password, counter} = realWx.demo()
  const staff = await realWx.api('POST', '/auth/staff', {username: 'admin', password})
  let merchant = null
  let cursor = ''
  do {
    const found = await realWx.api('GET', '/staff/merchants?limit=100' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''),
      undefined, staff.token)
    merchant = found.items.find((m) => m.name === counter.merchant) || null
    cursor = found.next
  } while (!merchant && cursor)
  expect(merchant).not.toBeNull()
  const detail = await realWx.api('GET', '/staff/merchants/' + merchant.id, undefined, staff.token)
  const store = detail.stores.find((s) => s.name === counter.store)
  expect(store).toBeTruthy()
  return {token: staff.token, merchant, store}
}

/** A worker's phone: logged in by the mini-program's own code, bound through the API with that token. */
async function boundWorker(member) {
  realWx.as(WORKER)
  const api = require('../../miniprogram/utils/api')
  await api.signIn()
  const token = wx.getStorageSync('unionaid.session').token
  expect(token).toBeTruthy()
  await realWx.api('POST', '/me/bind', {name: member.name, id_number: member.id_number}, token)
}

test('a cashier binds by the invite, scans the card the worker shows, sees the quote, redeems; the worker sees it', async () => {
  const counter = await theCounter()
  const invite = await realWx.api('POST', `/staff/merchants/${counter.merchant.id}/invites`,
    {role: 'cashier', store_id: counter.store.id}, counter.token)
  const code = invite.invite.code
  expect(code).toMatch(/^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{12}$/)

  // The worker shows the card; the page holds the code the camera will read.
  await boundWorker(realWx.demo().members[4])
  const card = pages.load('pages/card/index')
  card.instance.onLoad({})
  card.instance.onShow()
  await pages.until(() => data(card).qrToken || data(card).error || data(card).qrError, 15000, 'the card and its code')
  expect(data(card).error).toBe('')
  const qrToken = data(card).qrToken
  expect(qrToken).toBeTruthy()
  card.instance.onUnload() // the card's refresh timer stops (the phone changes hands)

  // The cashier opens the invite's mini-program code: the scene fills the code in.
  realWx.as(CASHIER)
  const bind = pages.load('pages/merchant/bind')
  bind.instance.onLoad({scene: encodeURIComponent(code.toLowerCase())})
  expect(data(bind).code).toBe(code)
  await bind.instance.bind()
  expect(data(bind).error).toBe('')
  expect(data(bind).bound).toEqual({merchant: counter.merchant.name, store: counter.store.name, role: '收银员'})
  expect(wx.getStorageSync('unionaid.merchant').store.id).toBe(counter.store.id)

  // The counter: the camera reads the worker's code.
  const index = pages.load('pages/merchant/index')
  await index.instance.onShow()
  expect(data(index).error).toBe('')
  expect(data(index).me.merchant.name).toBe(counter.merchant.name)
  wx.scanCode = realWx.scanReturns(qrToken)
  wx.navigateTo = jest.fn()
  await index.instance.scan()
  expect(data(index).refusal).toBeNull()
  expect(wx.navigateTo).toHaveBeenCalledTimes(1)
  const url = wx.navigateTo.mock.calls[0][0].url
  expect(url).toMatch(/^\/pages\/merchant\/redeem\?scan_id=/)
  const scanId = decodeURIComponent(url.split('scan_id=')[1])

  // The bill: the pharmacy's drug programme covers 药品.
  const redeem = pages.load('pages/merchant/redeem')
  redeem.instance.onLoad({scan_id: scanId})
  expect(data(redeem).state).toBe('bill')
  expect(data(redeem).holder).toContain('*')
  const categories = data(redeem).categories.map((c) => c.code)
  expect(categories).toContain('drug')

  // Only "other" first: the server says there is no benefit, and the scan is not spent by asking.
  redeem.instance.onCategory({currentTarget: {dataset: {index: 0}}, detail: {value: categories.indexOf('other')}})
  redeem.instance.onAmount({currentTarget: {dataset: {index: 0}}, detail: {value: '20'}})
  await redeem.instance.askQuote()
  expect(data(redeem).actionError).toBe('本次消费没有可享受的优惠，请按原价结算')
  expect(data(redeem).quote).toBeNull()

  // Medicine for 123.45 yuan: 10 % off = 12.35 (half up), as quoted by the server before confirming.
  redeem.instance.onCategory({currentTarget: {dataset: {index: 0}}, detail: {value: categories.indexOf('drug')}})
  redeem.instance.onAmount({currentTarget: {dataset: {index: 0}}, detail: {value: '123.45'}})
  await redeem.instance.askQuote()
  expect(data(redeem).actionError).toBe('')
  expect(data(redeem).state).toBe('quoted')
  const quote = data(redeem).quote
  expect(quote.amount).toBe('123.45')
  expect(quote.discount).toBe('12.35')
  expect(quote.payable).toBe('111.10')
  expect(Number(quote.union_share) + Number(quote.merchant_share)).toBeCloseTo(12.35, 2)
  // The first confirmation reaches the server but its answer is lost on the way back (a timeout
  // on the phone): 重试 sends the same Idempotency-Key, and the server answers the same redemption.
  const request = wx.request
  const sent = []
  wx.request = (options) => {
    sent.push(options)
    if (sent.length > 1) return request(options)
    return request(Object.assign({}, options, {success: () => options.fail({errMsg: 'request:fail timeout'})}))
  }
  await redeem.instance.confirm()
  await pages.until(() => !data(redeem).busy, 15000, 'the lost answer')
  expect(data(redeem).actionError).toBe('网络超时，请稍后重试')
  expect(data(redeem).canRetryConfirm).toBe(true)
  await redeem.instance.confirm()
  wx.request = request
  expect(sent).toHaveLength(2)
  expect(sent[1].header['Idempotency-Key']).toBe(sent[0].header['Idempotency-Key'])
  expect(data(redeem).actionError).toBe('')
  expect(data(redeem).state).toBe('done')
  const result = data(redeem).result
  expect([result.amount, result.discount, result.payable, result.union_share, result.merchant_share])
    .toEqual([quote.amount, quote.discount, quote.payable, quote.union_share, quote.merchant_share])
  redeem.instance.onUnload()

  // The worker's redemptions page lists it.
  realWx.as(WORKER)
  const list = pages.load('pages/redemptions/index')
  // Opened as WeChat opens a page (the worker's page may load in onLoad or onShow).
  if (list.instance.onLoad) await list.instance.onLoad({})
  if (list.instance.onShow) await list.instance.onShow()
  await pages.until(() => !data(list).loading, 15000, "the worker's redemptions")
  expect(data(list).error).toBe('')
  expect(data(list).items.map((r) => r.id)).toEqual([result.id]) // one redemption: the retry redeemed nothing more
  expect(data(list).items[0].discount).toBe(1235)

  // The spent code is refused at the counter, in the server's words, with what to do.
  realWx.as(CASHIER)
  await index.instance.scan()
  expect(data(index).refusal.message).toBe('该二维码已被使用，请持卡人刷新后重新扫码')
  expect(data(index).refusal.next).toContain('刷新')
  expect(wx.navigateTo).toHaveBeenCalledTimes(1)

  // Today's list has it with the totals; the cashier voids it after the dialog.
  const today = pages.load('pages/merchant/today')
  await today.instance.onShow()
  expect(data(today).error).toBe('')
  const row = data(today).items.find((r) => r.id === result.id)
  expect(row && row.canVoid).toBe(true)
  expect(data(today).totals.discount).toBe('12.35') // redeemed once, though confirmed twice
  expect(data(today).totals.count).toBe(1)
  wx.showModal = (opts) => setTimeout(() => opts.success({confirm: true, content: '录入有误'}), 0)
  wx.showToast = jest.fn()
  await today.instance.voidOne({currentTarget: {dataset: {id: result.id}}})
  const voided = data(today).items.find((r) => r.id === result.id)
  expect(voided.status).toBe('void')
  expect(voided.voidReason).toBe('录入有误')
  expect(data(today).totals.count).toBe(0)

  // The merchant's manager finds it by its number (第 n 号) and the refund page opens with the server's
  // copy; opened again with nothing kept on the phone (the app restarted), the page reads it by number.
  const managerInvite = await realWx.api('POST', `/staff/merchants/${counter.merchant.id}/invites`, {role: 'manager'},
    counter.token)
  realWx.as(MANAGER)
  const api = require('../../miniprogram/utils/api')
  await api.signIn()
  await realWx.api('POST', '/merchant/bind', {invite_code: managerInvite.invite.code},
    wx.getStorageSync('unionaid.session').token)
  const desk = pages.load('pages/merchant/today')
  await desk.instance.onShow()
  expect(data(desk).manager).toBe(true)
  wx.navigateTo = jest.fn()
  desk.instance.onLookupInput({detail: {value: String(result.id)}})
  await desk.instance.lookup()
  expect(data(desk).lookupError).toBe('')
  expect(wx.navigateTo).toHaveBeenCalledWith({url: '/pages/merchant/refund?id=' + result.id})
  expect(wx.getStorageSync('unionaid.merchant.redemption')).toMatchObject({id: result.id, status: 'void',
    void_reason: '录入有误'})
  desk.instance.onLookupInput({detail: {value: '987654321'}})
  await desk.instance.lookup()
  expect(data(desk).lookupError).toBe('没有找到第 987654321 号核销（只能查本商家的核销）')
  require('../../miniprogram/pages/merchant/shared').saveRedemption(null)
  const refund = pages.load('pages/merchant/refund')
  await refund.instance.onLoad({id: String(result.id)})
  expect(data(refund).state).toBe('closed') // voided: nothing to refund, the bill shown
  expect(data(refund).bill.id).toBe(result.id)
})

test('someone who is not a cashier is sent to bind, and a wrong invite code is refused verbatim', async () => {
  realWx.as('mp-counter-stranger')
  const index = pages.load('pages/merchant/index')
  await index.instance.onShow()
  expect(data(index).error).toBe('')
  expect(data(index).me).toBeNull()
  expect(pages.text(index)).toContain('尚未绑定商家')

  const bind = pages.load('pages/merchant/bind')
  bind.instance.onLoad({scene: 'ABCD2345EFGH'})
  await bind.instance.bind()
  expect(data(bind).bound).toBeNull()
  expect(data(bind).error).toMatch(/[\u4e00-\u9fa5]/)
  expect(data(bind).error).not.toBe('服务暂时不可用，请稍后重试')
})

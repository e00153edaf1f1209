const {fakeServer} = require('../helpers/fake-server')
const pages = require('../helpers/pages')
const qr = require('../../miniprogram/pages/card/qr')

const T1 = 'A'.repeat(135)
const T2 = 'B'.repeat(135)
const T3 = 'C'.repeat(135)

const CARD = {
  card_no: '8619820894511242',
  card_no_display: '8619 8208 9451 1242',
  status: 'active',
  status_label: '正常',
  holder: '张*英',
  benefits: [
    {program_id: 1, program: '职工药房九折', summary: '药品九折', period: 'month', remaining: {money: 12345, count: 3}},
    {program_id: 2, program: '体检优惠', summary: '', period: 'year', remaining: {money: null, count: null}},
  ],
}

function screen() {
  const state = {brightness: 0.3, keepOn: false}
  wx.getScreenBrightness = jest.fn((o) => setTimeout(() => o.success({value: state.brightness}), 0))
  wx.setScreenBrightness = jest.fn((o) => {
    state.brightness = o.value
  })
  wx.setKeepScreenOn = jest.fn((o) => {
    state.keepOn = o.keepScreenOn
  })
  return state
}

function tokens(server, list) {
  const queue = list.slice()
  server.on('GET', '/me/card/qr', () => ({token: queue.shift(), expires_at: new Date(Date.now() + 60000).toISOString(), refresh_in: 30}))
}

afterEach(() => {
  jest.useRealTimers()
})

test('shows the card masked, the benefits in yuan and the QR of the token it holds', async () => {
  const server = fakeServer()
  screen()
  server.on('GET', '/me/card', CARD)
  tokens(server, [T1])
  const page = await pages.open('pages/card/index')
  const text = pages.text(page)
  expect(text).toContain('**** **** **** 1242')
  expect(text).not.toContain('8619820894511242')
  expect(text).toContain('正常')
  expect(text).toContain('职工药房九折')
  expect(text).toContain('本月剩余额度')
  expect(text).toContain('¥123.45')
  expect(text).toContain('3次')
  expect(text).toContain('不限额度')
  expect(page.instance.data.qrToken).toBe(T1)
  // The image is drawn from the held token, not fetched (the PNG route would sign another code).
  expect(page.instance.data.qrImage).toBe(qr.dataUrl(T1))
  expect(server.calls('GET', '/me/card/qr').map((c) => c.query)).toEqual([''])
  page.instance.onUnload()
})

test('the QR is refreshed after refresh_in seconds, and not while the page is hidden', async () => {
  const server = fakeServer()
  screen()
  server.on('GET', '/me/card', CARD)
  tokens(server, [T1, T2, T3])
  jest.useFakeTimers()
  const page = pages.load('pages/card/index')
  page.instance.onLoad({})
  const shown = page.instance.onShow()
  await jest.advanceTimersByTimeAsync(50)
  await shown
  expect(page.instance.data.qrToken).toBe(T1)
  await jest.advanceTimersByTimeAsync(29000)
  expect(page.instance.data.qrToken).toBe(T1)
  await jest.advanceTimersByTimeAsync(1100)
  expect(page.instance.data.qrToken).toBe(T2)
  expect(page.instance.data.qrImage).toBe(qr.dataUrl(T2))
  page.instance.onHide()
  await jest.advanceTimersByTimeAsync(120000)
  expect(server.calls('GET', '/me/card/qr')).toHaveLength(2)
  // Shown again: a fresh code at once.
  const again = page.instance.onShow()
  await jest.advanceTimersByTimeAsync(50)
  await again
  expect(page.instance.data.qrToken).toBe(T3)
  page.instance.onUnload()
  await jest.advanceTimersByTimeAsync(120000)
  expect(server.calls('GET', '/me/card/qr')).toHaveLength(3)
})

test('keeps the screen on at full brightness while shown, and restores it on hide and unload', async () => {
  const server = fakeServer()
  const state = screen()
  server.on('GET', '/me/card', CARD)
  tokens(server, [T1, T2])
  const page = await pages.open('pages/card/index')
  expect(state.brightness).toBe(1)
  expect(state.keepOn).toBe(true)
  page.instance.onHide()
  expect(state.brightness).toBe(0.3)
  expect(state.keepOn).toBe(false)
  await page.instance.onShow()
  await pages.settle()
  expect(state.brightness).toBe(1)
  page.instance.onUnload()
  expect(state.brightness).toBe(0.3)
  expect(state.keepOn).toBe(false)
})

test('出示给收银员 shows the code full screen, with large type', async () => {
  const server = fakeServer()
  screen()
  server.on('GET', '/me/card', CARD)
  tokens(server, [T1])
  const page = await pages.open('pages/card/index')
  expect(pages.find(page, '#cashier')).toBeNull()
  pages.tap(page, '#cashier-mode')
  await pages.settle()
  expect(pages.textOf(page, '#cashier')).toContain('请收银员扫码')
  expect(pages.textOf(page, '#cashier')).toContain('尾号 1242')
  pages.tap(page, '#cashier-close')
  await pages.settle()
  expect(pages.find(page, '#cashier')).toBeNull()
  page.instance.onUnload()
})

test('a frozen card shows its status and no code', async () => {
  const server = fakeServer()
  screen()
  server.on('GET', '/me/card', Object.assign({}, CARD, {status: 'frozen', status_label: '已冻结', status_reason: '会员资格核查中'}))
  tokens(server, [T1])
  const page = await pages.open('pages/card/index')
  expect(pages.textOf(page, '#card-blocked')).toContain('服务卡已冻结')
  expect(pages.textOf(page, '#card-blocked')).toContain('会员资格核查中')
  expect(pages.find(page, '#qr-image')).toBeNull()
  expect(page.instance.data.qrToken).toBe('')
  expect(server.calls('GET', '/me/card/qr')).toHaveLength(0)
})

test("a refusal of the code is shown as the API says it, and the card's new status with it", async () => {
  const server = fakeServer()
  screen()
  let frozen = false
  server.on('GET', '/me/card', () => (frozen ? Object.assign({}, CARD, {status: 'frozen', status_label: '已冻结'}) : CARD))
  server.on('GET', '/me/card/qr', () => {
    frozen = true
    return {status: 403, body: {error: {code: 'card_frozen', message: '服务卡已冻结', request_id: 'r'}}}
  })
  const page = await pages.open('pages/card/index')
  expect(pages.text(page)).toContain('服务卡已冻结')
  expect(page.instance.data.qrError).toBe('服务卡已冻结')
  expect(page.instance.data.card.status).toBe('frozen')
  expect(page.instance.data.qrToken).toBe('')
})

test('offline: the card offers 重试; a failed refresh says so and offers to fetch again', async () => {
  const server = fakeServer()
  screen()
  server.on('GET', '/me/card', CARD)
  tokens(server, [T1, T2])
  server.failNext('offline')
  const page = await pages.open('pages/card/index')
  expect(pages.text(page)).toContain('网络连接失败，请检查网络后重试')
  pages.tap(page, '#status >>> .status-view__retry')
  await pages.settle()
  expect(page.instance.data.qrToken).toBe(T1)
  // The next refresh times out: the code still valid stays, with the message and a way to fetch again.
  server.failNext('timeout')
  await page.instance.refreshQr()
  expect(pages.textOf(page, '#qr-error')).toBe('网络超时，请稍后重试')
  expect(page.instance.data.qrToken).toBe(T1)
  pages.tap(page, '#qr-retry')
  await pages.settle()
  expect(page.instance.data.qrToken).toBe(T2)
  expect(pages.find(page, '#qr-error')).toBeNull()
  page.instance.onUnload()
})

test('a code past its expiry is taken off the screen when no new one comes', async () => {
  const server = fakeServer()
  screen()
  server.on('GET', '/me/card', CARD)
  server.on('GET', '/me/card/qr', {token: T1, expires_at: new Date(Date.now() - 1000).toISOString(), refresh_in: 30})
  const page = await pages.open('pages/card/index')
  expect(page.instance.data.qrToken).toBe(T1)
  server.failNext('offline')
  await page.instance.refreshQr()
  expect(page.instance.data.qrToken).toBe('')
  expect(pages.find(page, '#qr-image')).toBeNull()
  expect(pages.textOf(page, '#qr-error')).toBe('网络连接失败，请检查网络后重试')
  page.instance.onUnload()
})

test('a 503 shows the API message with 重试', async () => {
  const server = fakeServer()
  screen()
  server.on('GET', '/me/card', {status: 503, body: {error: {code: 'database_unavailable', message: '数据库暂时不可用，请稍后重试', request_id: 'r'}}})
  const page = await pages.open('pages/card/index')
  expect(pages.text(page)).toContain('数据库暂时不可用，请稍后重试')
  expect(pages.find(page, '#status >>> .status-view__retry')).not.toBeNull()
})

test('挂失 asks first; confirmed, it reports the card lost and shows the new one', async () => {
  const server = fakeServer()
  screen()
  let lost = false
  server.on('GET', '/me/card', () => (lost ? Object.assign({}, CARD, {card_no: '8000000000009999'}) : CARD))
  tokens(server, [T1, T2, T3])
  server.on('POST', '/me/card/report-lost', () => {
    lost = true
    return {card: {id: 2, card_no: '8000000000009999', status: 'active', status_label: '正常'}, previous_card_no: CARD.card_no}
  })
  wx.showToast = jest.fn()
  const page = await pages.open('pages/card/index')
  wx.showModal = jest.fn((o) => o.success({confirm: false, cancel: true}))
  expect(await page.instance.reportLost()).toBe(false)
  expect(wx.showModal.mock.calls[0][0].content).toContain('尾号1242')
  expect(server.calls('POST', '/me/card/report-lost')).toHaveLength(0)
  wx.showModal = jest.fn((o) => o.success({confirm: true, cancel: false}))
  expect(await page.instance.reportLost()).toBe(true)
  await pages.settle()
  expect(server.calls('POST', '/me/card/report-lost')[0].data).toEqual({})
  expect(pages.textOf(page, '#lost-notice')).toContain('尾号1242的旧卡已挂失作废，新卡号尾号9999')
  expect(pages.text(page)).toContain('**** **** **** 9999')
  expect(page.instance.data.qrToken).toBe(T2)
  page.instance.onUnload()
})

test('a refused loss report is shown as the API says it', async () => {
  const server = fakeServer()
  screen()
  server.on('GET', '/me/card', CARD)
  tokens(server, [T1])
  server.on('POST', '/me/card/report-lost', {status: 409, body: {error: {code: 'card_not_live', message: '该服务卡已不能挂失', request_id: 'r'}}})
  wx.showToast = jest.fn()
  wx.showModal = jest.fn((o) => o.success({confirm: true}))
  const page = await pages.open('pages/card/index')
  expect(await page.instance.reportLost()).toBe(false)
  expect(wx.showToast.mock.calls[0][0].title).toBe('该服务卡已不能挂失')
  page.instance.onUnload()
})

test('someone not bound yet is told so and sent to bind', async () => {
  const server = fakeServer()
  screen()
  server.on('GET', '/me/card', {status: 404, body: {error: {code: 'member_not_bound', message: '请先完成会员实名绑定', request_id: 'r'}}})
  const page = await pages.open('pages/card/index')
  expect(pages.textOf(page, '#not-bound')).toContain('您还没有认证会员身份')
  wx.navigateTo = jest.fn()
  pages.tap(page, '#go-bind')
  await pages.settle()
  expect(wx.navigateTo).toHaveBeenCalledWith({url: '/pages/bind/index'})
})

test('back from the background, an expired code leaves the screen before the new one comes', async () => {
  const server = fakeServer()
  screen()
  server.on('GET', '/me/card', CARD)
  const queue = [
    {token: T1, expires_at: new Date(Date.now() - 1000).toISOString(), refresh_in: 30},
    {token: T2, expires_at: new Date(Date.now() + 60000).toISOString(), refresh_in: 30},
  ]
  server.on('GET', '/me/card/qr', () => queue.shift())
  const page = await pages.open('pages/card/index')
  expect(page.instance.data.qrToken).toBe(T1)
  page.instance.onHide()
  const shown = page.instance.onShow()
  expect(page.instance.data.qrToken).toBe('')
  expect(page.instance.data.loading).toBe(false) // the card stays while it refreshes
  await shown
  await pages.settle()
  expect(page.instance.data.qrToken).toBe(T2)
  page.instance.onUnload()
})

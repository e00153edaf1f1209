const {fakeServer} = require('../helpers/fake-server')
const pages = require('../helpers/pages')

const TEMPLATES = {card: 'tpl-card', redemption: 'tpl-red', relief: 'tpl-relief', payment: 'tpl-pay'}

function notice(id, extra = {}) {
  return Object.assign(
    {id, kind: 'card.issued', title: '服务卡已开通', body: '您的职工互助服务卡已开通', page: null, at: '2026-12-01T08:00:00Z', read: false, delivery: 'unsent'},
    extra
  )
}

function server(notices = {items: [notice(2), notice(1, {read: true, title: '核销成功', delivery: 'sent'})], unread: 1, next: null}) {
  const s = fakeServer()
  s.on('GET', '/me/notices', notices)
  s.on('GET', '/me/subscriptions', {templates: TEMPLATES, grants: {'tpl-card': 2}})
  return s
}

test('lists the notices, unread marked, and the grants held', async () => {
  server()
  const page = await pages.open('pages/notices/index')
  const text = pages.text(page)
  expect(pages.textOf(page, '#unread')).toBe('未读 1 条')
  expect(text).toContain('服务卡已开通')
  expect(text).toContain('未读')
  expect(text).toContain('已通过微信通知')
  expect(text).toContain('未订阅微信通知，仅在此查看')
  expect(text).toContain('服务卡变动还可接收 2 条')
  expect(text).toContain('救助金发放未开启')
})

test('tapping an unread notice marks it read and opens its page', async () => {
  const s = server({items: [notice(2, {page: 'pages/card/index'})], unread: 1, next: null})
  s.on('POST', '/me/notices/read', {unread: 0})
  wx.navigateTo = jest.fn()
  const page = await pages.open('pages/notices/index')
  pages.tap(page, '.notice')
  await pages.settle()
  expect(s.calls('POST', '/me/notices/read')[0].data).toEqual({ids: [2]})
  expect(page.instance.data.items[0].read).toBe(true)
  expect(pages.textOf(page, '#unread')).toBe('没有未读消息')
  expect(wx.navigateTo.mock.calls[0][0].url).toBe('/pages/card/index')
  // Read already: no second call.
  pages.tap(page, '.notice')
  await pages.settle()
  expect(s.calls('POST', '/me/notices/read')).toHaveLength(1)
})

test('全部已读 marks them all', async () => {
  const s = server({items: [notice(3), notice(2), notice(1)], unread: 3, next: null})
  s.on('POST', '/me/notices/read', {unread: 0})
  const page = await pages.open('pages/notices/index')
  pages.tap(page, '#read-all')
  await pages.settle()
  expect(s.calls('POST', '/me/notices/read')[0].data).toEqual({all: true})
  expect(page.instance.data.items.every((n) => n.read)).toBe(true)
  expect(pages.find(page, '#read-all')).toBeNull()
})

test('a refused mark-read is shown as the API says it', async () => {
  const s = server()
  s.on('POST', '/me/notices/read', {status: 400, body: {error: {code: 'invalid_body', message: '请给出要标为已读的通知', request_id: 'r'}}})
  wx.showToast = jest.fn()
  const page = await pages.open('pages/notices/index')
  expect(await page.instance.readAll()).toBe(false)
  expect(wx.showToast.mock.calls[0][0].title).toBe('请给出要标为已读的通知')
  expect(page.instance.data.items[0].read).toBe(false)
})

test('pages on with the next cursor', async () => {
  const s = fakeServer()
  s.on('GET', '/me/subscriptions', {templates: TEMPLATES, grants: {}})
  s.on('GET', '/me/notices', (req) =>
    req.query === 'cursor=n1' ? {items: [notice(1)], unread: 2, next: null} : {items: [notice(2)], unread: 2, next: 'n1'}
  )
  const page = await pages.open('pages/notices/index')
  pages.tap(page, '#more')
  await pages.settle()
  expect(page.instance.data.items.map((n) => n.id)).toEqual([2, 1])
  expect(pages.find(page, '#more')).toBeNull()
})

test('接收微信通知 asks WeChat for at most 3 templates a call, and posts the answer', async () => {
  const s = server()
  s.on('POST', '/me/subscriptions', {grants: {'tpl-card': 3, 'tpl-red': 1}})
  wx.requestSubscribeMessage = jest.fn((o) =>
    setTimeout(() => o.success({errMsg: 'requestSubscribeMessage:ok', 'tpl-card': 'accept', 'tpl-red': 'accept', 'tpl-relief': 'reject'}), 0)
  )
  const page = await pages.open('pages/notices/index')
  const buttons = page.querySelectorAll('.sub-button')
  expect(buttons).toHaveLength(2)
  expect(buttons[0].dom.textContent).toContain('服务卡变动、优惠核销、救助进度')
  expect(buttons[1].dom.textContent).toContain('救助金发放')
  buttons[0].dispatchEvent('tap')
  await pages.settle()
  expect(wx.requestSubscribeMessage.mock.calls[0][0].tmplIds).toEqual(['tpl-card', 'tpl-red', 'tpl-relief'])
  expect(s.calls('POST', '/me/subscriptions')[0].data).toEqual({results: {'tpl-card': 'accept', 'tpl-red': 'accept', 'tpl-relief': 'reject'}})
  expect(pages.text(page)).toContain('服务卡变动还可接收 3 条')
  expect(pages.text(page)).toContain('优惠核销还可接收 1 条')
  expect(pages.textOf(page, '#sub-note')).toContain('已开启')
  buttons[1].dispatchEvent('tap')
  await pages.settle()
  expect(wx.requestSubscribeMessage.mock.calls[1][0].tmplIds).toEqual(['tpl-pay'])
})

test('a failed report can be sent again; WeChat refusing the dialog is explained', async () => {
  const s = server()
  s.on('POST', '/me/subscriptions', {grants: {'tpl-card': 3}})
  wx.requestSubscribeMessage = jest.fn((o) => setTimeout(() => o.success({errMsg: 'requestSubscribeMessage:ok', 'tpl-card': 'accept'}), 0))
  const page = await pages.open('pages/notices/index')
  s.failNext('offline')
  await page.instance.subscribe({currentTarget: {dataset: {index: 0}}})
  await pages.settle()
  expect(pages.textOf(page, '#sub-error')).toBe('网络连接失败，请检查网络后重试')
  pages.tap(page, '#sub-resend')
  await pages.settle()
  expect(wx.requestSubscribeMessage).toHaveBeenCalledTimes(1)
  expect(s.calls('POST', '/me/subscriptions').map((c) => c.data)).toEqual([
    {results: {'tpl-card': 'accept'}},
    {results: {'tpl-card': 'accept'}},
  ])
  expect(pages.text(page)).toContain('服务卡变动还可接收 3 条')
  wx.requestSubscribeMessage = jest.fn((o) => setTimeout(() => o.fail({errMsg: 'requestSubscribeMessage:fail', errCode: 20004}), 0))
  await page.instance.subscribe({currentTarget: {dataset: {index: 0}}})
  await pages.settle()
  expect(pages.textOf(page, '#sub-error')).toContain('关闭了本小程序的消息通知')
})

test('offline: the list offers 重试, and the subscription part its own', async () => {
  const s = server()
  // The sign-in both parts share fails: each part says so and offers its own 重试.
  s.failNext('offline')
  const page = await pages.open('pages/notices/index')
  expect(pages.text(page)).toContain('网络连接失败，请检查网络后重试')
  expect(pages.textOf(page, '#sub-load-error')).toBe('网络连接失败，请检查网络后重试')
  pages.tap(page, '#status >>> .status-view__retry')
  pages.tap(page, '#sub-reload')
  await pages.settle()
  expect(pages.text(page)).toContain('服务卡已开通')
  expect(pages.text(page)).toContain('服务卡变动还可接收 2 条')
  expect(s.calls('GET', '/me/notices')).toHaveLength(1)
  expect(s.calls('GET', '/me/subscriptions')).toHaveLength(1)
})

test('a refusal of the list is shown as the API says it', async () => {
  const s = server()
  s.on('GET', '/me/notices', {status: 400, body: {error: {code: 'invalid_query', message: '参数 cursor 无效', request_id: 'r'}}})
  const page = await pages.open('pages/notices/index')
  expect(pages.text(page)).toContain('参数 cursor 无效')
})

test('without templates configured, no subscribe button and a plain word why', async () => {
  const s = server()
  s.on('GET', '/me/subscriptions', {templates: {card: '', redemption: '', relief: '', payment: ''}, grants: {}})
  const page = await pages.open('pages/notices/index')
  expect(page.querySelectorAll('.sub-button')).toHaveLength(0)
  expect(pages.textOf(page, '#sub-none')).toContain('暂未开通微信通知')
})

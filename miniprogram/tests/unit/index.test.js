const {fakeServer} = require('../helpers/fake-server')
const pages = require('../helpers/pages')

const MEMBER = {name_masked: '张*英', id_number_masked: '**************1234'}

test('a visitor is offered to bind a membership', async () => {
  const server = fakeServer()
  server.on('GET', '/me', {user: {id: 1, roles: ['visitor']}, member: null})
  const page = await pages.open('pages/index/index')
  expect(pages.text(page)).toContain('认证会员身份')
  expect(server.logins).toBe(1)
  expect(server.calls('GET', '/me')[0].header.Authorization).toMatch(/^Bearer tok-/)
})

test('a member sees the card, relief and the unread count', async () => {
  const server = fakeServer()
  server.on('GET', '/me', {user: {id: 1, roles: ['member']}, member: MEMBER})
  server.on('GET', '/me/notices', {items: [], unread: 3, next: null})
  const page = await pages.open('pages/index/index')
  const text = pages.text(page)
  expect(text).toContain('张*英')
  expect(text).toContain('出示服务卡')
  expect(text).toContain('3条未读')
})

test('offline shows the message and a retry that works', async () => {
  const server = fakeServer()
  server.on('GET', '/me', {user: {id: 1, roles: ['visitor']}, member: null})
  server.failNext('offline')
  const page = await pages.open('pages/index/index')
  expect(pages.text(page)).toContain('网络连接失败，请检查网络后重试')
  pages.tap(page, '#status >>> .status-view__retry')
  await pages.settle()
  expect(pages.text(page)).toContain('认证会员身份')
})

test('a 5xx without a body and a timeout each read as a clear message', async () => {
  const server = fakeServer()
  server.on('GET', '/me', {status: 502, body: '<html>bad gateway</html>'})
  let page = await pages.open('pages/index/index')
  expect(pages.text(page)).toContain('服务暂时不可用，请稍后重试')
  server.failNext('timeout')
  page = await pages.open('pages/index/index')
  expect(pages.text(page)).toContain('网络超时，请稍后重试')
})

test('an expired token logs in again once and repeats the call', async () => {
  const server = fakeServer()
  let first = true
  server.on('GET', '/me', () => {
    if (first) {
      first = false
      return {status: 401, body: {error: {code: 'unauthorized', message: '请先登录', request_id: 'r'}}}
    }
    return {user: {id: 1, roles: ['visitor']}, member: null}
  })
  const page = await pages.open('pages/index/index')
  expect(pages.text(page)).toContain('认证会员身份')
  expect(server.logins).toBe(2)
})

// The harness itself against the real server: a new phone logs in with the sandbox's wx.login and
// the home page offers to bind; the page's own calls carry the token the server gave.
const realWx = require('../helpers/real-wx')
const pages = require('../helpers/pages')

test('a new worker opens the mini-program and is asked to bind', async () => {
  realWx.as('e2e-home-visitor')
  const page = pages.load('pages/index/index')
  await page.instance.onShow()
  await pages.until(() => !page.instance.data.loading, 15000, 'the home page to load')
  expect(page.instance.data.error).toBe('')
  expect(pages.text(page)).toContain('认证会员身份')
})

// Load a page (built with the Component constructor) or a component into miniprogram-simulate,
// render it into jsdom and run its page lifecycle the way WeChat would: onLoad(query), then onShow.
const path = require('path')
const simulate = require('miniprogram-simulate')

const ROOT = path.resolve(__dirname, '../../miniprogram')

// app.json's global components, which miniprogram-simulate does not read.
// Paths starting with / are under the mini-program's root, as in app.json.
const GLOBAL_COMPONENTS = {'status-view': '/components/status-view/index'}

// miniprogram-simulate registers a definition once per path (Node caches the page's module), so a
// test file registers each page once and renders a fresh instance of it every time it opens it.
const registered = new Map()

function load(pagePath) {
  if (!registered.has(pagePath)) {
    registered.set(pagePath, simulate.load(path.join(ROOT, pagePath), {rootPath: ROOT, usingComponents: GLOBAL_COMPONENTS}))
  }
  const page = simulate.render(registered.get(pagePath))
  page.attach(document.createElement('parent-wrapper'))
  return page
}

/** Open a page as WeChat does: onLoad with the query, then onShow. Resolves with the page. */
async function open(pagePath, query = {}) {
  const page = load(pagePath)
  const methods = page.instance
  if (methods.onLoad) await methods.onLoad(query)
  if (methods.onShow) await methods.onShow()
  await settle()
  return page
}

/** Let pending promises and timers of zero delay run. */
async function settle(rounds = 25) {
  for (let i = 0; i < rounds; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 0))
  }
}

/** Wait until `check()` is truthy (for e2e calls over real HTTP); fails after `ms`. */
async function until(check, ms = 15000, what = 'condition') {
  const end = Date.now() + ms
  while (Date.now() < end) {
    const value = check()
    if (value) return value
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error('timed out waiting for ' + what)
}

/** The visible text of a rendered page. */
function text(page) {
  return page.dom.textContent.replace(/\s+/g, ' ').trim()
}

/** The visible text of the first element matching a selector (see find), or null when none does. */
function textOf(page, selector) {
  const el = find(page, selector)
  return el ? el.dom.textContent.replace(/\s+/g, ' ').trim() : null
}

/**
 * The first element matching a selector; `>>>` steps into a child component's own tree, e.g.
 * 'status-view >>> .status-view__retry'.
 */
function find(page, selector) {
  let node = page
  for (const part of selector.split('>>>').map((s) => s.trim())) {
    node = node && node.querySelector(part)
  }
  return node || null
}

/** Tap the first element matching a selector (see find). */
function tap(page, selector) {
  const el = find(page, selector)
  if (!el) throw new Error('nothing matches ' + selector)
  el.dispatchEvent('tap')
}

/** Type into an <input> or <textarea> (fires its bindinput with {detail: {value}}). */
function type(page, selector, value) {
  const el = find(page, selector)
  if (!el) throw new Error('nothing matches ' + selector)
  el.dispatchEvent('input', {detail: {value}})
}

module.exports = {ROOT, load, open, settle, until, text, textOf, find, tap, type, simulate}

// The paged-list behaviour on its own, in a bare component: first page, next page by the cursor
// (rows already shown not repeated), a failed next page that keeps the list and offers 重试, and a
// pull-down that reads the first page again.
const simulate = require('miniprogram-simulate')
const {fakeServer} = require('../helpers/fake-server')
const pages = require('../helpers/pages')
const pagedList = require('../../miniprogram/behaviors/paged-list')

const listId = simulate.load({
  template: `<view wx:for="{{items}}" wx:key="id" class="row">{{item.label}}</view>
<text wx:if="{{moreError}}" class="more-error">{{moreError}}</text>`,
  behaviors: [pagedList],
  data: {total: 0},
  methods: {
    listPath() {
      return '/things?limit=2'
    },
    listRow(t) {
      return {id: t.id, label: '第' + t.id + '项'}
    },
    listExtra(answer, items, appending) {
      return {total: items.length, lastAppending: appending}
    },
  },
})

function open() {
  const comp = simulate.render(listId)
  comp.attach(document.createElement('parent-wrapper'))
  return comp
}

/** A list of two pages ([2], then [1] by the cursor c1), its first page shown. */
async function twoPages() {
  const server = fakeServer()
  server.on('GET', '/things', (req) => (req.query.includes('cursor=')
    ? {items: [{id: 1}], next: null}
    : {items: [{id: 2}], next: 'c1'}))
  const comp = open()
  await comp.instance.load()
  return {server, comp}
}

const ids = (comp) => comp.instance.data.items.map((r) => r.id)

beforeEach(() => {
  wx.stopPullDownRefresh = jest.fn()
})

test('the first page: status state cleared, rows as the page shows them, the cursor kept', async () => {
  const server = fakeServer()
  server.on('GET', '/things', {items: [{id: 3}, {id: 2}], next: 'c/1'})
  const comp = open()
  expect(comp.instance.data.loading).toBe(true)
  await comp.instance.load()
  await pages.settle()
  expect(comp.instance.data).toMatchObject({loading: false, error: '', next: 'c/1', total: 2, lastAppending: false})
  expect(comp.instance.data.items).toEqual([{id: 3, label: '第3项'}, {id: 2, label: '第2项'}])
  expect(server.calls('GET', '/things')[0].query).toBe('limit=2')
})

test('the next page follows the cursor and is appended without the rows already shown', async () => {
  const server = fakeServer()
  server.on('GET', '/things', (req) => (req.query.includes('cursor=')
    ? {items: [{id: 2}, {id: 1}], next: null}
    : {items: [{id: 3}, {id: 2}], next: 'c/1'}))
  const comp = open()
  await comp.instance.load()
  await comp.instance.onReachBottom()
  await pages.settle()
  expect(server.calls('GET', '/things')[1].query).toBe('limit=2&cursor=' + encodeURIComponent('c/1'))
  expect(ids(comp)).toEqual([3, 2, 1])
  expect(comp.instance.data).toMatchObject({next: null, loadingMore: false, total: 3, lastAppending: true})
  await comp.instance.loadMore() // no cursor left: nothing asked
  expect(server.calls('GET', '/things')).toHaveLength(2)
})

test('a failed next page keeps what is shown and offers 重试', async () => {
  const {server, comp} = await twoPages()
  server.failNext('timeout')
  await comp.instance.loadMore()
  await pages.settle()
  expect(ids(comp)).toEqual([2])
  expect(comp.instance.data).toMatchObject({loadingMore: false, moreError: '网络超时，请稍后重试', next: 'c1', error: ''})
  expect(comp.dom.querySelector('.more-error').textContent).toBe('网络超时，请稍后重试')
  await comp.instance.loadMore() // 重试
  await pages.settle()
  expect(ids(comp)).toEqual([2, 1])
  expect(comp.instance.data.moreError).toBe('')
})

test('a failed first page shows the status-view state', async () => {
  const server = fakeServer()
  server.on('GET', '/things', {status: 503, body: {error: {code: 'unavailable', message: '服务暂不可用', request_id: 'r'}}})
  const comp = open()
  await comp.instance.load()
  await pages.settle()
  expect(comp.instance.data).toMatchObject({loading: false, error: '服务暂不可用'})
  expect(ids(comp)).toEqual([])
})

test('a pull-down reads the first page again and stops the refresh animation', async () => {
  const server = fakeServer()
  let round = 0
  server.on('GET', '/things', (req) => {
    if (req.query.includes('cursor=')) return {items: [{id: 1}], next: null}
    round += 1
    return round === 1 ? {items: [{id: 2}], next: 'c1'} : {items: [{id: 4}, {id: 3}], next: 'c3'}
  })
  const comp = open()
  await comp.instance.load()
  await comp.instance.loadMore()
  expect(ids(comp)).toEqual([2, 1])
  await comp.instance.onPullDownRefresh()
  await pages.settle()
  expect(ids(comp)).toEqual([4, 3])
  expect(comp.instance.data).toMatchObject({next: 'c3', loading: false, total: 2})
  expect(wx.stopPullDownRefresh).toHaveBeenCalledTimes(1)
})

test('a first page asked again while a next page is on its way wins over it', async () => {
  const {server, comp} = await twoPages()
  const more = comp.instance.loadMore()
  const again = comp.instance.load()
  await Promise.all([more, again])
  await pages.settle()
  expect(server.calls('GET', '/things')).toHaveLength(3) // the next page was asked, its answer dropped
  expect(ids(comp)).toEqual([2])
  expect(comp.instance.data).toMatchObject({next: 'c1', loadingMore: false})
})

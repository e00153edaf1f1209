// A list read page by page with the API's `next` cursor, shared by the pages that show one
// (redemptions, notices, relief, merchant today/statements): the first page with the status-view
// state, the next page appended (by 加载更多 or at the bottom of the list) with its own "more"
// state and inline error for 重试, and a pull-down that reads the first page again.
//
// The page using it supplies, as methods:
//   listPath()                 the list's path, query included ('/merchant/statements?limit=20');
//                              the cursor is added to it as `cursor=...`
//   listRow(item)              the view of one row of the answer (optional; the row as it is)
//   listExtra(answer, items, appending)
//                              optional: more data to set from the answer (unread, totals...);
//                              `items` is the whole list as it will be shown
//   listRefresh()              optional: what a pull-down reloads (default: load())
// Rows are de-duplicated by id when a page is appended: a row already shown (the list moved
// between two pages) is not shown twice.
const api = require('../utils/api')
const ui = require('../utils/ui')

function withCursor(path, cursor) {
  if (!cursor) return path
  return path + (path.indexOf('?') >= 0 ? '&' : '?') + 'cursor=' + encodeURIComponent(cursor)
}

module.exports = Behavior({
  data: {
    loading: true,
    error: '',
    canRetry: true,
    items: [],
    next: null,
    loadingMore: false,
    moreError: '',
  },
  methods: {
    _pagedRows(answer) {
      const rows = (answer && answer.items) || []
      return this.listRow ? rows.map((r) => this.listRow(r)) : rows
    },
    _pagedSet(answer, items, appending, state) {
      const extra = this.listExtra ? this.listExtra(answer, items, appending) : null
      this.setData(Object.assign(state, {items, next: (answer && answer.next) || null}, extra || {}))
    },

    /** The first page (again). A later load or pull-down wins over an earlier one still on its way. */
    load() {
      const seq = (this._pagedSeq = (this._pagedSeq || 0) + 1)
      this.setData({loading: true, error: '', moreError: '', loadingMore: false})
      return api
        .get(this.listPath())
        .then((answer) => {
          if (seq !== this._pagedSeq) return
          this._pagedSet(answer, this._pagedRows(answer), false, {loading: false})
        })
        .catch((err) => {
          if (seq !== this._pagedSeq) return
          this.setData(ui.failedState(err))
        })
    },

    /** The following page, appended without the rows already shown; a failure keeps them and offers 重试. */
    loadMore() {
      if (!this.data.next || this.data.loadingMore || this.data.loading) return Promise.resolve(null)
      const seq = this._pagedSeq
      this.setData({loadingMore: true, moreError: ''})
      return api
        .get(withCursor(this.listPath(), this.data.next))
        .then((answer) => {
          if (seq !== this._pagedSeq) return
          const seen = new Set(this.data.items.map((r) => r.id))
          const fresh = ((answer && answer.items) || []).filter((r) => !seen.has(r.id))
          const more = this._pagedRows({items: fresh})
          this._pagedSet(answer, this.data.items.concat(more), true, {loadingMore: false})
        })
        .catch((err) => {
          if (seq !== this._pagedSeq) return
          this.setData({loadingMore: false, moreError: ui.messageOf(err)})
        })
    },

    onReachBottom() {
      return this.loadMore()
    },

    onPullDownRefresh() {
      const reload = this.listRefresh ? this.listRefresh() : this.load()
      return Promise.resolve(reload).then(() => wx.stopPullDownRefresh && wx.stopPullDownRefresh())
    },
  },
})

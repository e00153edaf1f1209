// Home: signs in with WeChat, then offers what this person can do: bind a membership, show the
// card, apply for relief, read notices; and the counter for a partner's cashier.
const api = require('../../utils/api')
const session = require('../../utils/session')
const ui = require('../../utils/ui')

Component({
  data: {
    loading: true,
    error: '',
    canRetry: true,
    member: null,
    unread: 0,
    cashier: false,
  },
  methods: {
    onShow() {
      this.load()
    },
    load() {
      this.setData({loading: true, error: ''})
      return api
        .get('/me')
        .then((me) => {
          session.updateUser(me.user)
          this.setData({loading: false, member: me.member || null, cashier: !!wx.getStorageSync('unionaid.merchant')})
          if (me.member) return this.loadUnread()
          return null
        })
        .catch((err) => this.setData(ui.failedState(err)))
    },
    loadUnread() {
      return api
        .get('/me/notices?limit=1')
        .then((answer) => this.setData({unread: answer.unread || 0}))
        .catch(() => this.setData({unread: 0}))
    },
    go(event) {
      wx.navigateTo({url: event.currentTarget.dataset.url})
    },
  },
})

// 邀请收银员 (merchant managers): a one-time invite code for one of the merchant's stores, shown
// large to be read aloud, with its mini-program code to scan (WeChat's error instead when WeChat
// could not make it: the code still works); and the invites still open.
const api = require('../../utils/api')
const format = require('../../utils/format')
const ui = require('../../utils/ui')

/** "ABCD2345EFGH" → "ABCD 2345 EFGH", easier to read aloud. */
function spaced(code) {
  return String(code || '').replace(/(.{4})(?=.)/g, '$1 ')
}

Component({
  data: {
    loading: true,
    error: '',
    canRetry: true,
    manager: true,
    stores: [],
    storeNames: [],
    storeIndex: 0,
    items: [],
    next: null,
    busy: false,
    created: null, // {code, spaced, store, expires, image, imageError}
    createError: '',
  },
  methods: {
    onShow() {
      return this.load()
    },
    load() {
      this.setData({loading: true, error: ''})
      return api
        .get('/merchant/me')
        .then((me) => {
          if (me.role !== 'manager') {
            this.setData({loading: false, manager: false})
            return null
          }
          const stores = me.stores || []
          this.setData({manager: true, stores, storeNames: stores.map((s) => s.name)})
          return api.get('/merchant/invites?limit=20').then((answer) => this.showList(answer))
        })
        .catch((err) => this.setData(ui.failedState(err)))
    },
    storeName(id) {
      const found = this.data.stores.find((s) => s.id === id)
      return found ? found.name : ''
    },
    showList(answer) {
      const items = answer.items.map((i) => ({
        id: i.id,
        code: i.code ? spaced(i.code) : '（旧邀请，码未保存）',
        store: this.storeName(i.store_id),
        expires: format.dateTime(i.expires_at),
      }))
      this.setData({loading: false, items, next: answer.next || null})
    },
    onStore(event) {
      this.setData({storeIndex: Number(event.detail.value), createError: ''})
    },
    create() {
      const store = this.data.stores[this.data.storeIndex]
      if (!store || this.data.busy) return Promise.resolve()
      this.setData({busy: true, createError: ''})
      return api
        .post('/merchant/invites', {store_id: store.id})
        .then((answer) => {
          const invite = answer.invite
          const image = answer.wxa_code ? 'data:' + (answer.wxa_code_type || 'image/jpeg') + ';base64,' + answer.wxa_code : ''
          const imageError = answer.wxa_code_error ? answer.wxa_code_error.message : ''
          this.setData({
            busy: false,
            created: {code: invite.code, spaced: spaced(invite.code), store: store.name,
              expires: format.dateTime(invite.expires_at), image, imageError},
          })
          return api.get('/merchant/invites?limit=20').then((list) => this.showList(list), () => null)
        })
        .catch((err) => this.setData({busy: false, createError: ui.messageOf(err)}))
    },
  },
})

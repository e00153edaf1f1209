// What a page shows instead of its content while it loads or after a load failed:
// a spinner, or the failure's message with a 重试 button (never a blank page).
Component({
  properties: {
    loading: {type: Boolean, value: false},
    error: {type: String, value: ''},
    canRetry: {type: Boolean, value: true},
  },
  methods: {
    onRetry() {
      this.triggerEvent('retry')
    },
  },
})

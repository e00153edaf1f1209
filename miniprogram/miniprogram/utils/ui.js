// Small helpers every page uses to show what happened, in Chinese, without logging anything.

const {ApiError, MESSAGES} = require('./api')

/** The message to show for any failure: the API's own words, or a fixed one. */
function messageOf(err) {
  if (err instanceof ApiError) return err.message
  if (err && typeof err.message === 'string' && /[\u4e00-\u9fa5]/.test(err.message)) return err.message
  return MESSAGES.server
}

/** Whether offering 重试 makes sense for this failure. */
function retryable(err) {
  return !(err instanceof ApiError) || err.retryable
}

function toast(title, icon = 'none') {
  wx.showToast({title, icon, duration: 2500})
}

/** Ask the user to confirm; resolves true when they tapped the confirm button. */
function confirm(title, content, confirmText = '确定') {
  return new Promise((resolve) => {
    wx.showModal({
      title,
      content,
      confirmText,
      cancelText: '取消',
      success: (res) => resolve(!!res.confirm),
      fail: () => resolve(false),
    })
  })
}

/** The state a page's status-view shows after a failed load. */
function failedState(err) {
  return {loading: false, error: messageOf(err), canRetry: retryable(err)}
}

module.exports = {messageOf, retryable, toast, confirm, failedState}

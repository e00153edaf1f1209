// UnionAid's reference mini-program: the worker's side (card, relief, notices) and the cashier's
// (merchant mode). Pages are built with the Component constructor, as WeChat allows, so that each
// can be loaded and tested on its own (tests/ beside this folder).
App({
  onLaunch() {
    // Nothing to do before the first page: every page signs in through utils/api when it first
    // calls the server, so a cold start with no network still shows a page with 重试.
  },
})

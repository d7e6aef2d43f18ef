'use strict'

// sessionbridge drop-in run (packages/testing/dropin): express-session's MemoryStore (its default store,
// and the store its tests construct) is sessionbridge's express store on a real Redis
// (SESSIONBRIDGE_DROPIN_URL), one key prefix per instance, as each MemoryStore is its own memory.
// express-session requires this file while it loads, and our adapter requires express-session: the
// class is made at the first `new`, once express-session has loaded.
var made = 0
var Made

function MemoryStore () {
  if (!Made) {
    var createSessionStore = require('@sessionbridge/core').createSessionStore
    var ExpressStore = require('@sessionbridge/express').ExpressStore
    Made = class extends ExpressStore {
      constructor () {
        super(createSessionStore({ url: process.env.SESSIONBRIDGE_DROPIN_URL, prefix: 'dropin:' + process.pid + ':' + (made++) + ':' }))
      }
    }
    MemoryStore.prototype = Made.prototype
  }
  return new Made()
}

module.exports = MemoryStore

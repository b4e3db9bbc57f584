/*
 * csbot staff dashboard: the browser side of the staff socket (docs/protocol.md).
 *
 * No build step. Needs marked, DOMPurify (from /static/vendor/) and markdown.js. The watched
 * conversation follows the same placing rules as the player page: every message
 * has a seq, every delta an offset in code points; a gap (or an `end` whose
 * final length `n` is more than the text held) asks for a resume.
 */
(function () {
  "use strict";

  var root = document.getElementById("staff-app");
  if (!root) return;

  var STRINGS = {};
  try { STRINGS = JSON.parse(document.getElementById("ui-strings").textContent) || {}; } catch (e) { /* keys */ }
  try { Object.assign(STRINGS, JSON.parse(document.getElementById("case-labels").textContent)); } catch (e) { /* codes */ }
  /** A handoff reason or a history event's kind, as staff read it (the code when unknown). */
  function codeLabel(kind, code) {
    var key = kind + "_" + code;
    return Object.prototype.hasOwnProperty.call(STRINGS, key) ? STRINGS[key] : code;
  }

  // The case's intent and fact names come in words for every language (docs/protocol.md).
  var LANG = (document.documentElement.lang || "en").toLowerCase();
  function inWords(words, code) { return (words && (words[LANG] || words.en)) || code; }
  /** A player's language ("zh-hans") by its name in the dashboard's: "Simplified Chinese", "简体中文". */
  function languageName(code) {
    try { return new Intl.DisplayNames([LANG], { type: "language" }).of(code) || code; } catch (e) { return code; }
  }

  function t(key, params) {
    var s = Object.prototype.hasOwnProperty.call(STRINGS, key) ? STRINGS[key] : key;
    if (params) s = s.replace(/\{(\w+)\}/g, function (m, k) { return k in params ? String(params[k]) : m; });
    return s;
  }

  var WS_PATH = root.getAttribute("data-ws-path") || "/ws/staff/";
  var IS_MANAGER = root.getAttribute("data-manager") === "1";
  var OPEN_FIRST = parseInt(root.getAttribute("data-open-conversation"), 10) || null;
  var MAX_CHARS = parseInt(root.getAttribute("data-max-chars"), 10) || 2000;
  var PING_MS = 25000;
  var TYPING_SEND_MS = 2000;
  var TYPING_SHOW_MS = 4000;

  var $ = function (id) { return document.getElementById(id); };
  var listEl = $("conv-list"), listEmpty = $("list-empty"), badge = $("queue-badge");
  var searchEl = $("search"), statusEl = $("my-status"), onlineEl = $("agents-online");
  var notifyBtn = $("enable-notifications"), alertsEl = $("alerts"), connEl = $("conn-banner");
  var convEl = $("conv"), placeholder = $("placeholder"), casePane = $("case-pane");
  var titleEl = $("conv-title"), stateEl = $("conv-state"), errorEl = $("action-error");
  var msgList = $("messages"), history = $("history"), playerTyping = $("player-typing");
  var composer = $("composer"), input = $("agent-input"), sendBtn = $("agent-send");
  var noteForm = $("note-form"), noteInput = $("note-input");
  var counters = new Map([[input, $("agent-counter")], [noteInput, $("note-counter")]]);
  var btnTake = $("act-take-over"), btnBack = $("act-hand-back"), btnClose = $("act-close");
  // Closing ends the player's chat for good (they are asked to rate it), and the button
  // sits beside Take over: it asks once more, for the chat it was clicked on.
  var confirmClose = $("confirm-close"), closingId = null;
  var transferBox = $("transfer-box"), transferTo = $("transfer-to"), btnTransfer = $("act-transfer");
  var exportLink = $("act-export");

  // ------------------------------------------------------------ helpers --
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function cpCount(s) { return Array.from(s).length; }
  function cpSlice(s, n) { return Array.from(s).slice(n).join(""); }
  /** "10:35", or for another day "Dec 4, 10:35" (and the year, for another year): a chat
   *  found in the closed list or a search read "10:35" for last week's. */
  function fmtTime(iso, seconds) {
    if (!iso) return "";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    var shown = { hour: "2-digit", minute: "2-digit" };
    if (seconds) shown.second = "2-digit";
    var now = new Date();
    if (d.toDateString() === now.toDateString()) return d.toLocaleTimeString(undefined, shown);
    shown.month = "short";
    shown.day = "numeric";
    if (d.getFullYear() !== now.getFullYear()) shown.year = "numeric";
    return d.toLocaleString(undefined, shown);
  }
  function fmtDuration(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var m = Math.floor(s / 60), h = Math.floor(m / 60);
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return h ? h + ":" + pad(m % 60) + ":" + pad(s % 60) : m + ":" + pad(s % 60);
  }
  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      try { return window.crypto.randomUUID(); } catch (e) { /* not secure */ }
    }
    return "c-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }
  // -------------------------------------------------------------- state --
  var ws = null, ready = false, attempt = 0, forbidden = false;
  var me = { id: null, name: "", roles: [] };
  var agents = [];
  var filter = "open", query = "";
  var rows = new Map();            // conversation id -> summary (the current list)
  var mineIds = new Set();         // the chats I hold, whatever the filter: the "Mine" count
  var mineKnown = false;           // a list has said which they are
  // Those of them whose player wrote last (the rows' reply_awaited_since), whatever the filter:
  // an agent picking up chats from "Waiting" saw none of hers, and her players waited unseen.
  var awaitingIds = new Set();
  var notified = new Set();        // "id:waiting_since" already notified
  var watched = null;              // { id, ready, case, msgs: Map, maxSeq, resumeInFlight, deferredEnds }
  var typingAt = 0, playerTypingTimer = 0;
  // The chat a Take over was clicked on, until the chat shows whose it is (or the click is
  // refused). Its reply box opens at the click: an agent types as she clicks, and the keys
  // that came before the server's answer went to a locked box and were lost. Enter meanwhile
  // sends once the chat is hers.
  var takingOver = null, sendWhenMine = false;

  // --------------------------------------------------------- the socket --
  function wsUrl() { return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + WS_PATH; }

  function send(obj) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(obj));
    return true;
  }

  function connect() {
    if (ws || forbidden) return;
    var sock = new WebSocket(wsUrl());
    ws = sock;
    setConn(attempt ? "reconnecting" : "connecting");
    sock.addEventListener("message", function (ev) {
      if (ws !== sock) return;
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f && f.t === "d") { if (watched && watched.ready) onDelta(f); }   // a compact delta
      else if (f && typeof f.type === "string") handle(f);
    });
    sock.addEventListener("close", function (ev) {
      if (ws !== sock) return;
      var wasOpen = ready;
      ws = null;
      ready = false;
      if (ev.code === 4403 && wasOpen) {
        // The sign-in ended while the dashboard was open (left idle, signed out, access taken
        // away): loading the page again shows the sign-in page, or the refusal.
        window.location.reload();
        return;
      }
      if (ev.code === 4403) {
        forbidden = true;
        setConn("forbidden");
        return;
      }
      setConn("reconnecting");
      attempt++;
      window.setTimeout(connect, Math.min(10000, 500 * Math.pow(2, attempt)));
    });
  }

  function setConn(kind) {
    root.setAttribute("data-connection", kind);
    if (kind === "open") { connEl.hidden = true; return; }
    connEl.textContent = kind === "forbidden" ? t("forbidden") : kind === "reconnecting" ? t("reconnecting") : t("connecting");
    connEl.hidden = kind === "connecting" && !attempt;
  }

  window.setInterval(function () { send({ type: "ping" }); }, PING_MS);
  window.setInterval(tick, 1000);

  // ------------------------------------------------------------- frames --
  function handle(f) {
    switch (f.type) {
      case "hello": onHello(f); break;
      case "list": onList(f); break;
      case "conversation": onRow(f); break;
      case "conversations": onRows(f); break;
      case "agents": onAgents(f.agents || []); break;
      case "alert": onAlert(f); break;
      case "case": onCase(f.conversation); break;
      case "state": if (watched && watched.ready) onState(f); break;
      case "message": if (watched && watched.ready) onMessage(f.message); break;
      case "end": if (watched && watched.ready) { if (watched.resumeInFlight) watched.deferredEnds.push(f); else onEnd(f); } break;
      case "replace": if (watched && watched.ready) onReplace(f); break;
      case "busy": if (watched && watched.ready) onBusy(f); break;
      case "resumed": if (watched) onResumed(); break;
      case "typing": onTyping(f); break;
      case "player_presence": onPlayerPresence(f); break;
      case "ack": onAck(f); break;
      // An action went through: its refusal, if shown, no longer holds. Not a reply's "too long",
      // which is about the text still in the box: Enter pressed as a Take over was settling
      // sent it once the chat was hers, and the take-over's `ok` right after hid why it was not.
      case "ok": if (errorEl.getAttribute("data-kind") !== "too_long") hideError(); break;
      case "error": onError(f); break;
      default: break;
    }
  }

  function onHello(f) {
    // A Take over whose answer was lost with the old socket: the chat's case says whose it is
    // now, and the box opens only if it is hers (what she typed stays in it).
    takingOver = null;
    sendWhenMine = false;
    ready = true;
    attempt = 0;
    setConn("open");
    me = f.me || me;
    statusSent = null;
    setMyStatus(me.status || "online");
    onAgents(f.agents || []);
    requestList();
    readDrafts();
    var reopen = watched ? watched.id : OPEN_FIRST;
    if (reopen) watch(reopen, !!watched);
    resendOutbox();
  }

  // --------------------------------------------------------------- list --
  function requestList() {
    listEl.setAttribute("aria-busy", "true");   // until its answer: what is shown may be another filter's
    send({ type: "list", filter: filter, q: query });
  }

  var listTimer = 0;
  function requestListSoon() {
    if (listTimer) return;
    listTimer = window.setTimeout(function () { listTimer = 0; requestList(); }, 400);
  }

  var elsewhere = {};               // a search that found nothing here: filter -> chats it finds there

  function onList(f) {
    if (Array.isArray(f.mine)) { mineIds = new Set(f.mine); mineKnown = true; }
    if (Array.isArray(f.awaiting)) awaitingIds = new Set(f.awaiting);
    if (f.filter !== filter || (f.q || "") !== query) return;   // an answer to an older request
    elsewhere = f.elsewhere || {};
    rows.clear();
    listEl.setAttribute("aria-busy", "false");
    (f.conversations || []).forEach(function (c) { rows.set(c.id, c); });
    setCounts({ waiting: (f.counts || {}).waiting, mine: mineIds.size });
    renderList();
  }

  /** Every row says who holds its chat now: the "Mine" count follows without asking. */
  function isMine(c) { return c.state === "human" && c.assignee && c.assignee.id === me.id; }
  function trackMine(c) {
    if (isMine(c)) mineIds.add(c.id);
    else mineIds.delete(c.id);
    if (isMine(c) && c.reply_awaited_since) awaitingIds.add(c.id);
    else awaitingIds.delete(c.id);
  }

  function matches(c) {
    switch (filter) {
      case "waiting": return c.state === "waiting";
      case "bot": return c.state === "bot" && c.messages > 0;
      case "mine": return isMine(c);
      case "open": return c.state !== "closed" && c.messages > 0;
      case "closed": return c.state === "closed";
    }
    return false;
  }

  function onRow(f) {
    if (f.conversation) onRows({ conversations: [f.conversation], queue: f.queue });
  }

  /** Rows of chats that changed (one after a handoff, several batched otherwise); the queue once. */
  function onRows(f) {
    var list = f.conversations || [];
    // Not before the first list said which chats are mine already.
    var handedToMe = !mineKnown ? [] : list.filter(function (c) {
      return !mineIds.has(c.id) && isMine(c) && !(watched && watched.id === c.id);
    });
    // A player of mine wrote, in a chat I am not looking at (another chat, another tab).
    var wroteToMe = !mineKnown ? [] : list.filter(function (c) {
      return mineIds.has(c.id) && isMine(c) && c.reply_awaited_since && !awaitingIds.has(c.id) &&
        (document.hidden || !(watched && watched.id === c.id));
    });
    list.forEach(trackMine);
    setCounts({ waiting: f.queue ? f.queue.waiting : undefined, mine: mineIds.size });
    list.forEach(maybeNotify);
    handedToMe.forEach(notifyHandedToMe);
    wroteToMe.forEach(function (c) { notify(c, t("new_reply_title"), "csbot-reply-"); });
    if (!list.length) return;
    if (query) { requestListSoon(); return; }   // the server does the text search
    list.forEach(function (c) { if (matches(c)) rows.set(c.id, c); else rows.delete(c.id); });
    renderList();
  }

  var TAB_TITLE = document.title, queueWaiting = 0;
  /** The tab says how many wait: a dashboard in a background tab, notifications off, showed
   *  nothing. Not to an agent who is away: she takes no chat, and the tab called her anyway. */
  function showTabTitle() {
    document.title = queueWaiting && !isAway() ? t("tab_waiting", { n: queueWaiting, title: TAB_TITLE }) : TAB_TITLE;
  }
  function setCounts(counts) {
    if (typeof counts.waiting === "number") {
      badge.textContent = String(counts.waiting);
      badge.hidden = counts.waiting === 0;
      queueWaiting = counts.waiting;
      showTabTitle();
      var w = root.querySelector('[data-count="waiting"]');
      if (w) w.textContent = counts.waiting ? String(counts.waiting) : "";
    }
    if (typeof counts.mine === "number") {
      var m = root.querySelector('[data-count="mine"]');
      if (m) m.textContent = counts.mine ? String(counts.mine) : "";
      var a = root.querySelector('[data-count="awaiting"]');
      if (a) a.textContent = awaitingIds.size ? t("awaiting_mine", { n: awaitingIds.size }) : "";
    }
  }

  function sorted() {
    var list = Array.from(rows.values());
    list.sort(function (a, b) {
      if (filter === "waiting") return (a.waiting_since || "").localeCompare(b.waiting_since || "") || a.id - b.id;
      return (b.updated || "").localeCompare(a.updated || "") || b.id - a.id;
    });
    return list;
  }

  function renderList() {
    // The rows are built anew whenever any chat changes (several times a second while answers
    // stream): a keyboard user on a row keeps their place on that chat's new row, or, the chat
    // gone from this filter, on the row that took its place.
    var focused = document.activeElement && document.activeElement.parentNode === listEl ? document.activeElement : null;
    var focusedAt = focused ? Array.prototype.indexOf.call(listEl.children, focused) : -1;
    listEl.textContent = "";
    sorted().forEach(function (c) { listEl.appendChild(rowEl(c)); });
    markListTabStop();
    if (focused) {
      var again = listEl.querySelector('[data-id="' + focused.getAttribute("data-id") + '"]') ||
        listEl.children[Math.min(focusedAt, listEl.children.length - 1)] || searchEl;
      again.focus({ preventScroll: true });
    }
    // Not while the list is on its way: a filter just clicked is not known to be empty.
    listEmpty.hidden = rows.size > 0 || listEl.getAttribute("aria-busy") === "true";
    renderElsewhere();
    tick();   // new rows' waiting times now, not blank until the next second
  }

  // The list is one Tab stop, as the filters are: every row was one, and a keyboard user who
  // opened a chat tabbed through every row after it to reach Take over. The arrows, Home and
  // End move between rows; the stop is the row last focused, else the open chat's, else the first.
  var listStopId = null;
  function markListTabStop() {
    var stop = (listStopId !== null && listEl.querySelector('[data-id="' + listStopId + '"]')) ||
      (watched && listEl.querySelector('[data-id="' + watched.id + '"]')) || listEl.firstElementChild;
    Array.prototype.forEach.call(listEl.children, function (li) { li.tabIndex = li === stop ? 0 : -1; });
  }
  function rowKeyTarget(li, key) {
    switch (key) {
      case "ArrowDown": return li.nextElementSibling;
      case "ArrowUp": return li.previousElementSibling;
      case "Home": return listEl.firstElementChild;
      case "End": return listEl.lastElementChild;
    }
    return undefined;
  }

  function rowEl(c) {
    var li = el("li", "row row--" + c.state);
    li.setAttribute("data-testid", "conversation-row");
    li.setAttribute("data-id", String(c.id));
    li.setAttribute("data-state", c.state);
    li.tabIndex = -1;
    li.addEventListener("focus", function () {
      listStopId = c.id;
      markListTabStop();
    });
    if (watched && watched.id === c.id) li.classList.add("is-active");
    var top = el("div", "row__top");
    top.appendChild(el("span", "row__player", c.player.name + (c.player.game_id ? " · " + c.player.game_id : "")));
    top.appendChild(el("span", "state-chip state-chip--" + c.state, t("state_" + c.state)));
    li.appendChild(top);
    var meta = el("div", "row__meta");
    if (c.state === "waiting" && c.waiting_since) {
      var wait = el("span", "row__wait");
      wait.setAttribute("data-since", c.waiting_since);
      wait.setAttribute("data-testid", "waiting-time");
      meta.appendChild(wait);
    }
    // A held chat whose player wrote last waits for its agent: which of her chats to answer first.
    if (c.state === "human" && c.reply_awaited_since) {
      li.classList.add("row--awaiting");
      var awaited = el("span", "row__wait");
      awaited.setAttribute("data-since", c.reply_awaited_since);
      awaited.setAttribute("data-label", "awaiting_reply");
      awaited.setAttribute("data-testid", "awaiting-reply");
      meta.appendChild(awaited);
    }
    if (c.assignee) meta.appendChild(el("span", "row__assignee", c.assignee.name));
    if (c.handoff_reason) meta.appendChild(el("span", "row__reason", codeLabel("reason", c.handoff_reason)));
    if (modelBusy(c)) {
      var busy = el("span", "row__busy", t("row_busy"));
      busy.setAttribute("data-testid", "row-model-busy");
      meta.appendChild(busy);
    }
    meta.appendChild(el("span", "row__time", fmtTime(c.last_message ? c.last_message.created : c.updated)));
    li.appendChild(meta);
    if (c.last_message) {
      var lm = c.last_message;
      li.appendChild(el("div", "row__last" + (lm.internal ? " row__last--note" : ""), lm.text || "…"));
    }
    li.addEventListener("click", function () { watch(c.id, false); });
    // A row is a button to a keyboard: Enter or Space opens it (Space without scrolling the list).
    li.addEventListener("keydown", function (e) {
      if (e.target !== li) return;
      var to = rowKeyTarget(li, e.key);
      if (to !== undefined) {
        e.preventDefault();   // the arrows move the focus, not the list's scroll
        if (to) to.focus();
        return;
      }
      if (e.key !== "Enter" && e.key !== " ") return;
      e.preventDefault();
      watch(c.id, false);
    });
    return li;
  }

  /** A search that found nothing in this list says which lists it found chats in, a click away. */
  function renderElsewhere() {
    var where = $("list-elsewhere");
    where.textContent = "";
    filterTabs.forEach(function (tab) {
      var n = query && !rows.size ? elsewhere[tab.getAttribute("data-filter")] : 0;
      if (!n) return;
      var go = el("button", "link-btn", t("found_in", { n: n, list: tab.firstChild.textContent.trim() }));
      go.type = "button";
      go.setAttribute("data-testid", "found-in-" + tab.getAttribute("data-filter"));
      go.addEventListener("click", function () { tab.focus(); chooseFilter(tab); });
      where.appendChild(go);
    });
  }

  function tick() {
    var now = Date.now();
    Array.prototype.forEach.call(document.querySelectorAll("[data-since]"), function (n) {
      var label = n.getAttribute("data-label") || "waiting_for";
      n.textContent = t(label, { time: fmtDuration(now - Date.parse(n.getAttribute("data-since"))) });
    });
  }

  // The filters are ARIA tabs: one Tab stop (the chosen one), the arrows, Home and End move
  // between them and choose as they go, so the list is a Tab away whichever filter is chosen.
  var filterTabs = Array.prototype.slice.call(root.querySelectorAll("[data-filter]"));
  function chooseFilter(b) {
    filter = b.getAttribute("data-filter");
    filterTabs.forEach(function (x) {
      x.setAttribute("aria-selected", x === b ? "true" : "false");
      x.tabIndex = x === b ? 0 : -1;
    });
    rows.clear();
    elsewhere = {};
    requestList();
    renderList();
  }
  filterTabs.forEach(function (b) {
    b.tabIndex = b.getAttribute("aria-selected") === "true" ? 0 : -1;
    b.addEventListener("click", function () { chooseFilter(b); });
    b.addEventListener("keydown", function (e) {
      var i = filterTabs.indexOf(b), last = filterTabs.length - 1;
      var next = { ArrowLeft: i === 0 ? last : i - 1, ArrowRight: i === last ? 0 : i + 1, Home: 0, End: last }[e.key];
      if (next === undefined) return;
      e.preventDefault();
      filterTabs[next].focus();
      chooseFilter(filterTabs[next]);
    });
  });

  var searchTimer = 0;
  searchEl.addEventListener("input", function () {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(function () {
      query = searchEl.value.trim();
      requestList();
    }, 300);
  });

  // --------------------------------------------------- notifications --
  function notificationsSupported() { return typeof window.Notification === "function"; }
  function refreshNotifyButton() {
    notifyBtn.hidden = !notificationsSupported() || window.Notification.permission !== "default";
  }
  notifyBtn.addEventListener("click", function () {
    if (!notificationsSupported()) return;
    var asked = window.Notification.requestPermission(refreshNotifyButton);
    if (asked && typeof asked.then === "function") asked.then(refreshNotifyButton);
  });
  refreshNotifyButton();

  function maybeNotify(c) {
    if (c.state !== "waiting" || !c.waiting_since) return;
    var key = c.id + ":" + c.waiting_since;
    if (notified.has(key)) return;
    notified.add(key);
    if (isAway()) return;   // she takes no chat now; back online, the badge and the tab show the queue
    if (Date.now() - Date.parse(c.waiting_since) > 120000) return;   // an old one, not news
    notify(c, t("new_waiting_title"), "csbot-waiting-");
  }

  /** A colleague's transfer, or AUTO_ASSIGN, made a chat mine while I looked elsewhere: only
   *  the "Mine" count said so, and its player waited on someone who did not know. */
  function notifyHandedToMe(c) { notify(c, t("new_mine_title"), "csbot-mine-"); }

  function notify(c, title, tag) {
    if (!notificationsSupported() || window.Notification.permission !== "granted") return;
    try {
      var n = new window.Notification(title, {
        body: c.player.name + (c.handoff_reason ? " (" + codeLabel("reason", c.handoff_reason) + ")" : ""),
        tag: tag + c.id
      });
      n.onclick = function () { window.focus(); watch(c.id, false); };
    } catch (e) { /* some browsers only allow notifications from a service worker */ }
  }

  // ------------------------------------------------------------ agents --
  function onAgents(list) {
    agents = list;
    followMyStatus(list);
    var online = list.filter(function (a) { return a.online; }).length;
    onlineEl.textContent = online ? t("agents_online", { n: online }) : t("no_agents_online");
    onlineEl.setAttribute("data-online", String(online));
    renderTransferTargets();
  }

  /** A transfer can only go to a colleague who is online with room (the server refuses the
   *  rest): those are the choices, and none is a note, never an away or offline default. */
  function renderTransferTargets() {
    var holder = watched && watched.conv && watched.conv.assignee ? watched.conv.assignee.id : null;
    var targets = agents.filter(function (a) {
      return a.id !== me.id && a.id !== holder && a.online && a.chats < a.max_chats;
    });
    var keep = transferTo.value;
    transferTo.textContent = "";
    targets.forEach(function (a) {
      var o = el("option", "", a.name + " — " + t("chats", { n: a.chats, max: a.max_chats }));
      o.value = String(a.id);
      transferTo.appendChild(o);
    });
    if (!targets.length) {
      var none = el("option", "", t("no_transfer_target"));
      none.value = "";
      transferTo.appendChild(none);
    }
    if (targets.some(function (a) { return String(a.id) === keep; })) transferTo.value = keep;
    btnTransfer.disabled = !targets.length;
  }

  // ------------------------------------------------------------ my status --
  // An agent who is Away takes no new chat (nor does AUTO_ASSIGN give her one), so "A player is
  // waiting" is not for her: no desktop notification, no count in the tab's title.
  var statusSent = null;           // my status as chosen here, until the roster says the server has it
  function isAway() { return me.status === "away"; }
  function setMyStatus(status) {
    me.status = status;
    statusEl.value = status;
    showTabTitle();
  }
  /** The roster says my status as the server has it: my other dashboards' choice too. */
  function followMyStatus(list) {
    var mine = list.filter(function (a) { return a.id === me.id; })[0];
    if (!mine) return;
    if (statusSent !== null && mine.status !== statusSent) return;   // a roster from before my change
    statusSent = null;
    if (mine.status !== me.status) setMyStatus(mine.status);
  }
  statusEl.addEventListener("change", function () {
    statusSent = statusEl.value;
    setMyStatus(statusEl.value);
    send({ type: "status", status: statusEl.value });
  });

  // ------------------------------------------------------------ alerts --
  // An agent can hide a banner she has read: two of them took a tenth of a 768 px screen
  // from the chat for as long as the anomaly lasted. Hidden for this tab's session; an
  // alert raised anew (another id or time) shows again.
  var HIDDEN_ALERTS_KEY = "csbot-hidden-alerts";
  var hiddenAlerts = new Set();
  try { hiddenAlerts = new Set(JSON.parse(window.sessionStorage.getItem(HIDDEN_ALERTS_KEY)) || []); } catch (e) { /* none */ }
  function alertKey(a) { return a.id + "@" + a.raised_at; }

  function onAlert(f) {
    var a = f.alert;
    if (!a) return;
    var existing = alertsEl.querySelector('[data-alert-id="' + a.id + '"]');
    if (f.event === "cleared" || a.state !== "active") { if (existing) existing.remove(); return; }
    if (hiddenAlerts.has(alertKey(a))) return;
    if (existing) { existing.firstChild.textContent = a.description; return; }   // sent again on a reconnect
    var div = el("div", "alert");
    div.setAttribute("data-alert-id", String(a.id));
    div.setAttribute("data-testid", "alert");
    div.setAttribute("role", "alert");
    div.appendChild(el("span", "alert__text", a.description));
    var hide = el("button", "alert__hide", "×");
    hide.type = "button";
    hide.setAttribute("aria-label", t("hide_alert"));
    hide.title = t("hide_alert");
    hide.setAttribute("data-testid", "hide-alert");
    hide.addEventListener("click", function () {
      hiddenAlerts.add(alertKey(a));
      try { window.sessionStorage.setItem(HIDDEN_ALERTS_KEY, JSON.stringify(Array.from(hiddenAlerts))); } catch (e) { /* private mode */ }
      div.remove();
    });
    div.appendChild(hide);
    alertsEl.appendChild(div);
  }

  // ------------------------------------------------ watching a chat --
  function watch(id, again) {
    var resumeFrom = { after_seq: 0, streams: {} };
    if (again && watched && watched.id === id) {
      resumeFrom = { after_seq: watched.maxSeq, streams: streamingOffsets() };
      watched.ready = false;
      // A player who left while this socket was down said so to nobody here: ask again, as
      // on opening the chat, or the panel went on saying "connected" to an empty chat.
      window.clearTimeout(watched.presenceTimer);
      watched.presenceTimer = 0;
      watched.presenceKnown = false;
    } else {
      keepDraft();
      var leftBusy = watched && watchedBusy();   // its row goes back to a plain one
      watched = { id: id, ready: false, conv: null, msgs: new Map(), maxSeq: 0, resumeInFlight: false, deferredEnds: [] };
      restoreDraft(id);
      takingOver = null;
      sendWhenMine = false;
      msgList.textContent = "";
      atFoot = true;
      $("case-connection").textContent = "—";
      $("case-connection").removeAttribute("data-online");
      hideError();
      showLoading();
      playerTyping.hidden = true;
      if (window.history && window.history.replaceState) window.history.replaceState(null, "", "/staff/c/" + id + "/");
      // On a phone the chat takes the screen the list had (staff.css); not on a reconnect's
      // watch again, which would pull an agent back out of the list she went back to.
      root.setAttribute("data-view", "conv");
    }
    if (leftBusy) renderList();
    Array.prototype.forEach.call(listEl.children, function (li) {
      li.classList.toggle("is-active", li.getAttribute("data-id") === String(id));
    });
    markListTabStop();
    placeholder.hidden = true;
    convEl.hidden = false;
    casePane.hidden = false;
    if (exportLink) exportLink.href = "/staff/c/" + id + "/export.json";
    watched.resumeInFlight = true;
    send({ type: "watch", conversation_id: id, after_seq: resumeFrom.after_seq, streams: resumeFrom.streams });
  }

  // Below 1000 px the case has no column (staff.css): its toggle shows it over the chat's side,
  // and Escape or its × puts it away, the focus back on the toggle. It stays open from chat to
  // chat, as the column does on a laptop.
  var caseToggle = $("case-toggle"), caseHide = $("case-hide");
  function showCase(open, focus) {
    root.setAttribute("data-case", open ? "open" : "closed");
    caseToggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (focus) (open ? caseHide : caseToggle).focus();
  }
  caseToggle.addEventListener("click", function () { showCase(root.getAttribute("data-case") !== "open", true); });
  caseHide.addEventListener("click", function () { showCase(false, true); });
  casePane.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && root.getAttribute("data-case") === "open") showCase(false, true);
  });

  // On a phone: back to the list, on the chat's row, the chat still watched (and held).
  var backBtn = $("conv-back");
  if (backBtn) backBtn.addEventListener("click", function () {
    showCase(false, false);
    root.setAttribute("data-view", "list");
    var row = watched && listEl.querySelector('[data-id="' + watched.id + '"]');
    if (row) row.focus();
  });

  /** Until the chat's `case` says what it is: the previous chat's title, case and actions stayed
   *  up meanwhile, and on a slow line a click on its Close (or Take over) acted on this one. */
  function showLoading() {
    titleEl.textContent = "";
    stateEl.textContent = "";
    stateEl.className = "state-chip";
    stateEl.removeAttribute("data-state");
    [btnTake, btnBack, transferBox, btnClose, confirmClose].forEach(function (b) { b.hidden = true; });
    input.disabled = sendBtn.disabled = true;
    casePane.classList.add("is-loading");
  }

  function streamingOffsets() {
    var streams = {};
    if (!watched) return streams;
    watched.msgs.forEach(function (r) { if (r.sender === "bot" && r.status === "streaming") streams[r.id] = r.cps; });
    return streams;
  }

  function sendResume() {
    if (!watched || watched.resumeInFlight) return;
    watched.resumeInFlight = true;
    send({ type: "resume", after_seq: watched.maxSeq, streams: streamingOffsets() });
  }

  function onCase(c) {
    if (!c || !watched || c.id !== watched.id) return;
    watched.ready = true;
    watched.conv = c;
    if (errorEl.getAttribute("data-for") !== caseKey()) hideError();
    renderCase();
    if (!watched.presenceTimer) watched.presenceTimer = window.setTimeout(presenceUnanswered, PRESENCE_ASK_MS, watched);
  }

  function onState(f) {
    if (!watched.conv) return;
    watched.conv.state = f.state;
    // Who holds it now comes with the `case` that follows; the state alone says this much.
    if ((errorEl.getAttribute("data-for") || "").split(":")[0] !== f.state) hideError();
    renderCase();
  }

  function onResumed() {
    watched.resumeInFlight = false;
    var ends = watched.deferredEnds;
    watched.deferredEnds = [];
    ends.forEach(onEnd);
  }

  /** After an action on this chat: a chat just made mine is for writing in; an action whose
   *  button went leaves the focus on the chat's title, just before its remaining actions. */
  function refocus(c, mine) {
    if (!actedFrom || actedFrom.id !== c.id) return;
    var from = actedFrom.el, focus = document.activeElement;
    // The agent has gone on elsewhere (the note box, the list): their focus is theirs.
    if (focus !== from && focus !== document.body) { actedFrom = null; return; }
    if (from === btnTake) {
      if (mine) { actedFrom = null; input.focus(); return; }
      // The state says "human" before the `case` saying who holds it: wait for that.
      if (c.state === "human" && !c.assignee) return;
    }
    if (from && from.offsetParent !== null) return;   // still there (a refusal): it stays
    actedFrom = null;
    titleEl.focus();
  }

  function mayAct(c) { return c.assignee && c.assignee.id === me.id || IS_MANAGER; }

  /** What the reply box says it is for: "take the chat over" only where a click can. */
  function composerHint(c, mine) {
    if (mine) return t("composer_ready");
    if (c.state === "closed") return t("composer_closed");
    if (c.state === "human") return t("composer_held", { name: c.assignee ? c.assignee.name : t("agent") });
    return t("composer_take_over");
  }

  function renderCase() {
    var c = watched.conv;
    if (!c) return;   // its `case` is on its way (showLoading)
    casePane.classList.remove("is-loading");
    titleEl.textContent = "#" + c.id + " · " + c.player.name;
    stateEl.textContent = t("state_" + c.state);
    stateEl.className = "state-chip state-chip--" + c.state;
    stateEl.setAttribute("data-state", c.state);
    var held = c.state === "human";
    var mine = held && c.assignee && c.assignee.id === me.id;
    btnTake.hidden = !(c.state === "bot" || c.state === "waiting");
    btnBack.hidden = !(held && mayAct(c));
    // Chats held change nobody's presence, so no `agents` frame says who has room now: ask.
    if (transferBox.hidden && held && mayAct(c)) send({ type: "agents" });
    transferBox.hidden = !(held && mayAct(c));
    renderTransferTargets();
    var closable = c.state !== "closed" && !(held && !mayAct(c));
    var confirming = closable && closingId === c.id;
    btnClose.hidden = !closable || confirming;
    confirmClose.hidden = !confirming;
    // Settled once the chat is mine, or someone else's (a colleague was quicker) or closed.
    if (takingOver === c.id && (mine || c.state === "closed" || (held && c.assignee))) takingOver = null;
    input.disabled = !mine && takingOver !== c.id;
    sendBtn.disabled = !mine;
    input.placeholder = composerHint(c, mine);
    refocus(c, mine);
    if (sendWhenMine && takingOver === null) {
      sendWhenMine = false;
      if (mine) submitTo("send", input);
    }

    $("case-player").textContent = c.player.name;
    $("case-game-id").textContent = c.player.game_id || "—";
    var language = $("case-language");
    language.textContent = c.player.language ? languageName(c.player.language) : "—";
    language.title = c.player.language || "";
    $("case-chats").textContent = c.player.conversations != null ? String(c.player.conversations) : "—";
    $("case-assignee").textContent = c.assignee ? c.assignee.name : t("nobody");
    $("case-reason").textContent = c.handoff_reason ? codeLabel("reason", c.handoff_reason) : "—";
    var waiting = $("case-waiting");
    if (c.state === "waiting" && c.waiting_since) waiting.setAttribute("data-since", c.waiting_since);
    else { waiting.removeAttribute("data-since"); waiting.textContent = "—"; }
    var labels = c.labels || {};
    var intentEl = $("case-intent");
    intentEl.textContent = c.intent ? inWords(labels.intent, c.intent) : "—";
    intentEl.title = c.intent || "";
    // "-0.45" alone left the agent to guess the scale: the level the bot acts on comes first.
    var mood = $("case-sentiment");
    mood.textContent = typeof c.sentiment !== "number" ? "—" :
      (c.sentiment_level ? t("sentiment_" + c.sentiment_level) + " (" + c.sentiment.toFixed(2) + ")" : c.sentiment.toFixed(2));
    // "calm" after a player's outburst ("S3" after swearing) hid it: the worse mood of their
    // last few messages follows ("· angry earlier"), and colours the line as the worse level.
    if (typeof c.sentiment === "number" && c.sentiment_earlier) mood.textContent += " · " + t("sentiment_earlier_" + c.sentiment_earlier);
    mood.setAttribute("data-level", c.sentiment_earlier || c.sentiment_level || "");
    var facts = $("case-facts");
    facts.textContent = "";
    Object.keys(c.facts || {}).forEach(function (k) {
      var v = c.facts[k];
      var name = el("dt", "", inWords((labels.facts || {})[k], k));
      name.title = k;
      facts.appendChild(name);
      facts.appendChild(el("dd", "", typeof v === "object" ? JSON.stringify(v) : String(v)));
    });
    if (!facts.children.length) facts.appendChild(el("dd", "muted case-none", t("none")));
    var sources = $("case-sources");
    sources.textContent = "";
    (c.sources || []).forEach(function (s) { sources.appendChild(el("li", "", s.title + (s.uses > 1 ? " ×" + s.uses : ""))); });
    if (!sources.children.length) sources.appendChild(el("li", "muted case-none", t("none")));
    var events = $("case-events");
    events.textContent = "";
    (c.events || []).forEach(function (e) {
      var li = el("li", "event event--" + e.kind);
      li.setAttribute("data-kind", e.kind);
      li.appendChild(el("span", "event__time", fmtTime(e.at)));
      var to = e.data && e.data.to_name ? " → " + e.data.to_name : "";   // a transfer: to whom
      var what = codeLabel("event", e.kind) + (e.actor ? " · " + e.actor : "") + to +
        (e.reason ? " (" + codeLabel("reason", e.reason) + ")" : "") +
        (e.data && e.data.error ? ": " + e.data.error : "");   // what failed, when an answer did
      li.appendChild(el("span", "event__what", what));
      events.appendChild(li);
    });
    // Said, as under Facts and Knowledge used: a blank read as still loading.
    if (!events.children.length) events.appendChild(el("li", "muted case-none", t("none")));
    tick();
  }

  // ------------------------------------------------------- messages --
  function noteSeq(seq) { if (typeof seq === "number" && seq > watched.maxSeq) watched.maxSeq = seq; }

  function onMessage(m) {
    if (!m || m.id == null) return;
    noteSeq(m.seq);
    var id = String(m.id);
    var rec = watched.msgs.get(id);
    var text = typeof m.text === "string" ? m.text : "";
    if (!rec) {
      rec = { id: id, seq: m.seq, sender: m.sender, internal: !!m.internal, name: m.name || "", raw: text,
              cps: cpCount(text), status: m.status || "done", sources: m.sources || [], error: m.error || "",
              created: m.created };
      // Opened in the middle of the model's rate limit: the message says so (docs/protocol.md).
      rec.busy = !!m.busy && rec.status === "streaming" && !rec.cps;
      rec.el = buildMsg(rec);
      watched.msgs.set(id, rec);
      place(rec);
    } else {
      var n = cpCount(text);
      if (n > rec.cps) { rec.raw = text; rec.cps = n; }
      if (rec.status === "streaming" && m.status && m.status !== "streaming") {
        rec.status = m.status;
        rec.sources = m.sources || rec.sources;
      }
    }
    if (m.sender === "agent" || m.sender === "player") playerTyping.hidden = true;
    // What the player writes to a person is read for the case too (mood, facts): not only answers.
    if (m.sender === "player" && !watched.resumeInFlight) refreshCaseSoon();
    if (rec.busy && (rec.cps || rec.status !== "streaming")) setBusy(rec, false);   // a resume brought its text
    else if (rec.busy) setBusy(rec, true);   // the chat's row says it too
    else paint(rec);
  }

  /** A compact delta `{t: "d", i: id, o: offset, d: text}` (docs/protocol.md). */
  // A lost `end` (a frame that crossed processes while this one was joining, or a
  // full channel) would leave the watched answer "streaming": after a long
  // silence, ask the server where it stands, as the player's page does.
  var lastStreamFrameAt = Date.now();
  var STREAM_SILENCE_MS = 20000;
  window.setInterval(function () {
    if (!watched || Date.now() - lastStreamFrameAt < STREAM_SILENCE_MS) return;
    var streaming = false;
    watched.msgs.forEach(function (rec) { if (rec.sender === "bot" && rec.status === "streaming") streaming = true; });
    if (streaming) {
      lastStreamFrameAt = Date.now();
      sendResume();
    }
  }, 5000);

  function onDelta(f) {
    lastStreamFrameAt = Date.now();
    var rec = watched.msgs.get(String(f.i));
    if (!rec) { sendResume(); return; }
    if (rec.status !== "streaming") return;
    if (f.o > rec.cps) { sendResume(); return; }
    var add = cpSlice(f.d, rec.cps - f.o);
    if (!add) return;
    // An answer's first text comes after the pipeline stored what it understood
    // (intent, facts, sentiment): show it now, not when the answer ends.
    if (!rec.cps && rec.sender === "bot") refreshCaseSoon();
    rec.raw += add;
    rec.cps += cpCount(add);
    paintSoon(rec);
    if (rec.busy) setBusy(rec, false);   // the model answers again
  }

  /** The answer, still without text, waits out the LLM's rate limit (docs/protocol.md, `busy`):
   *  the agent watching saw an answer stalled for up to LLM_RATE_LIMIT_WAIT with no reason, and
   *  could not tell a model that is coming from a chat that hung. Said until its text or end. */
  function onBusy(f) {
    lastStreamFrameAt = Date.now();
    var rec = watched.msgs.get(String(f.id));
    if (rec && rec.status === "streaming" && !rec.cps) setBusy(rec, true);
  }

  function setBusy(rec, busy) {
    rec.busy = busy;
    paint(rec);
    renderList();   // the chat's row says it too
  }

  /** The chat's answer is waiting for the model: its row says so (`model_busy`), and the watched
   *  chat's frames say when it stops, before its row comes again. */
  function modelBusy(c) {
    if (!watched || watched.id !== c.id || !watched.ready) return !!c.model_busy;
    return watchedBusy();
  }

  function watchedBusy() {
    var busy = false;
    watched.msgs.forEach(function (rec) { if (rec.busy) busy = true; });
    return busy;
  }

  var caseTimer = 0;
  /** What the bot learnt (intent, facts, sentiment; at the end, sources) shows in the case panel. */
  function refreshCaseSoon() {
    if (caseTimer || !watched) return;
    caseTimer = window.setTimeout(function () {
      caseTimer = 0;
      if (watched) send({ type: "case", conversation_id: watched.id });
    }, 300);
  }

  function onEnd(f) {
    var rec = watched.msgs.get(String(f.id));
    if (rec && rec.sender === "bot" && !watched.resumeInFlight) refreshCaseSoon();
    if (!rec || rec.status !== "streaming") return;
    // `n` is the final length. More than we hold: text is missing that no delta
    // will show (a resume read a buffer that was behind): resume, as for a gap.
    if (typeof f.n === "number" && f.n > rec.cps) { sendResume(); return; }
    rec.status = f.status || "done";
    rec.sources = f.sources || [];
    rec.error = f.error || "";
    if (rec.busy) setBusy(rec, false);
    else paint(rec);
  }

  function onReplace(f) {
    var rec = watched.msgs.get(String(f.id));
    if (!rec) return;
    rec.raw = f.text;
    rec.cps = cpCount(f.text);
    paint(rec);
  }

  function buildMsg(rec) {
    var kind = rec.internal && rec.sender === "agent" ? "note" : rec.sender;
    var li = el("li", "msg msg--" + kind);
    li.setAttribute("data-testid", "message");
    li.setAttribute("data-sender", rec.sender);
    li.setAttribute("data-id", rec.id);
    if (rec.internal) li.setAttribute("data-internal", "1");
    var label = rec.sender === "bot" ? t("assistant") : rec.sender === "player" ? t("player") :
      kind === "note" ? t("note") + " · " + rec.name : rec.sender === "agent" ? rec.name || t("agent") : t("system");
    li.appendChild(el("div", "msg__label", label + " · " + fmtTime(rec.created)));
    rec.body = el("div", "msg__body" + (rec.sender === "bot" || rec.sender === "agent" ? " md" : ""));
    rec.body.setAttribute("data-testid", "message-text");
    li.appendChild(rec.body);
    rec.note = el("div", "msg__note");
    li.appendChild(rec.note);
    return li;
  }

  function place(rec) {
    var ref = msgList.lastElementChild;
    while (ref && Number(ref.getAttribute("data-seq")) > rec.seq) ref = ref.previousElementSibling;
    rec.el.setAttribute("data-seq", String(rec.seq));
    msgList.insertBefore(rec.el, ref ? ref.nextSibling : msgList.firstChild);
  }

  // The history keeps to its foot when it loses height, as it follows new messages there:
  // Take over's buttons wrap the chat's header onto a second line, and the player's latest
  // message, the one to answer, slid out of view under the reply box.
  var atFoot = true, lastTop = 0;
  function nearFoot() { return history.scrollHeight - history.scrollTop - history.clientHeight < 80; }
  history.addEventListener("scroll", function () {
    // Only the agent scrolls up. Our own scroll to the foot can land after the history shrank
    // (its event comes later), which reads as far from the foot but is not leaving it.
    atFoot = nearFoot() || (atFoot && history.scrollTop >= lastTop);
    lastTop = history.scrollTop;
  });
  if (typeof window.ResizeObserver === "function") {
    new window.ResizeObserver(function () { if (atFoot) history.scrollTop = history.scrollHeight; }).observe(history);
  }

  var dirty = new Set(), raf = 0;
  function paintSoon(rec) {
    dirty.add(rec);
    if (raf) return;
    raf = window.requestAnimationFrame(function () {
      raf = 0;
      dirty.forEach(paint);
      dirty.clear();
    });
    window.setTimeout(function () { if (dirty.size) { dirty.forEach(paint); dirty.clear(); } }, 250);
  }

  function paint(rec) {
    // Where the agent was before this message grew the history, not after (a tall one at once
    // would read as scrolled away).
    var pinned = atFoot;
    // What the bot and agents write (notes too) is Markdown, shown as on the player's page.
    if (rec.sender === "bot" || rec.sender === "agent") window.csbotMarkdown.render(rec.body, rec.raw);
    else rec.body.textContent = rec.raw;
    rec.el.setAttribute("data-status", rec.status);
    rec.el.classList.toggle("is-streaming", rec.status === "streaming");
    rec.el.classList.toggle("is-model-busy", !!rec.busy);
    var note = "";
    if (rec.busy) note = t("answer_busy");
    else if (rec.status === "interrupted") note = t("answer_stopped");
    else if (rec.status === "failed") note = t("answer_failed") + (rec.error ? " " + rec.error : "");
    else if (rec.sources && rec.sources.length) {
      note = t("sources") + ": " + rec.sources.map(function (s) { return "[" + s.n + "] " + s.title; }).join(" · ");
    }
    rec.note.textContent = note;
    rec.note.hidden = !note;
    if (pinned) history.scrollTop = history.scrollHeight;
  }

  // ----------------------------------------------- player's connection --
  // Opening a chat asks the server whether its player is connected: each process
  // with a socket of theirs answers with `player_presence` (docs/protocol.md).
  // No answer by then: not connected, last seen when their last socket closed.
  var PRESENCE_ASK_MS = 1000;

  function presenceUnanswered(w) {
    if (w !== watched || w.presenceKnown || !w.conv.player.last_seen) return;
    onPlayerPresence({ conversation_id: watched.id, online: false, at: watched.conv.player.last_seen });
  }

  function onPlayerPresence(f) {
    if (!watched || f.conversation_id !== watched.id) return;
    watched.presenceKnown = true;
    var conn = $("case-connection");
    var time = fmtTime(f.at, true);
    conn.textContent = f.online ? t("player_connected") : t("player_disconnected", { time: time });
    conn.setAttribute("data-online", f.online ? "1" : "0");
  }

  // ---------------------------------------------------------- typing --
  function onTyping(f) {
    if (!watched || !watched.ready || (f.conversation_id && f.conversation_id !== watched.id)) return;
    if (f.who === "agent" && f.agent_id === me.id) return;
    playerTyping.textContent = f.who === "player" ? t("typing_player") : t("typing_agent", { name: f.name || t("agent") });
    playerTyping.hidden = false;
    window.clearTimeout(playerTypingTimer);
    playerTypingTimer = window.setTimeout(function () { playerTyping.hidden = true; }, TYPING_SHOW_MS);
  }

  input.addEventListener("input", function () {
    // Not before the chat is mine: the player would read "Alice is typing" above "Alice has joined".
    if (!watched || input.disabled || takingOver !== null) return;
    var now = Date.now();
    if (now - typingAt < TYPING_SEND_MS) return;
    typingAt = now;
    send({ type: "typing", conversation_id: watched.id });
  });

  // --------------------------------------------------------- actions --
  // An error is about the chat as it was: it goes once the chat's state or holder changes.
  function caseKey() {
    var c = watched && watched.conv;
    return c ? c.state + ":" + (c.assignee ? c.assignee.id : "") : "";
  }
  function showError(text, forKey) {
    errorEl.textContent = text;
    errorEl.hidden = false;
    errorEl.setAttribute("data-for", forKey === undefined ? caseKey() : forKey);
  }
  function hideError() {
    errorEl.textContent = "";
    errorEl.hidden = true;
    errorEl.removeAttribute("data-kind");
    errorEl.removeAttribute("data-for");
  }

  // The button an action was clicked on often goes with it (Take over, Hand back, Close),
  // and the browser drops the focus to the page: the agent who took over typed into nothing,
  // and a keyboard user started again from the top. Once the chat shows the action's outcome,
  // the focus goes where the next step is (`refocus`, from renderCase).
  var actedFrom = null;

  function act(type, extra) {
    if (!watched) return;
    hideError();
    actedFrom = { id: watched.id, el: document.activeElement };
    var frame = { type: type, conversation_id: watched.id };
    if (extra) Object.keys(extra).forEach(function (k) { frame[k] = extra[k]; });
    return send(frame);
  }

  function takeOver() {
    // Not sent (the socket is down): nothing to wait for, the box stays locked.
    if (!watched || !act("take_over")) return;
    takingOver = watched.id;
    input.disabled = false;
    input.focus();
  }
  btnTake.addEventListener("click", takeOver);
  // Enter's own keypress would follow the focus into the box, as a new line there.
  btnTake.addEventListener("keydown", function (e) {
    if (e.key !== "Enter") return;
    e.preventDefault();
    takeOver();
  });
  btnBack.addEventListener("click", function () { act("hand_back"); });
  function askToClose(ask) {
    closingId = ask && watched ? watched.id : null;
    if (watched && watched.conv) renderCase();   // none yet: its case draws the confirmation
    (ask ? $("act-close-confirm") : btnClose).focus();
  }
  btnClose.addEventListener("click", function () { askToClose(true); });
  $("act-close-cancel").addEventListener("click", function () { askToClose(false); });
  $("act-close-confirm").addEventListener("click", function () {
    closingId = null;
    act("close");
    if (watched && watched.conv) renderCase();
  });
  confirmClose.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") askToClose(false);
  });
  btnTransfer.addEventListener("click", function () {
    var to = parseInt(transferTo.value, 10);
    if (to) act("transfer", { to: to });
  });
  transferTo.addEventListener("focus", function () { send({ type: "agents" }); });

  // A text leaves its box only once the server has it (`ack`); refused (`error` with
  // its client_id), it is still there to fix and send again. One whose socket dropped
  // before the ack goes again on the next socket with the same client_id: the server
  // stores a client_id once, so a text that did arrive is not stored twice.
  var outbox = new Map();          // client_id -> { box, frame } sent, not yet acked

  function submitTo(kind, box) {
    var text = box.value.trim();
    if (!text || !watched || box.hasAttribute("data-pending")) return;
    if (box === input && takingOver === watched.id) { sendWhenMine = true; return; }
    var n = cpCount(text);
    if (n > MAX_CHARS) {
      showError(t("too_long", { count: n, max: MAX_CHARS }));
      errorEl.setAttribute("data-kind", "too_long");
      box.focus();
      return;
    }
    // The same text sent again from its chat's draft (a reload between the send and its ack)
    // goes with the same client_id: the server, which may have stored it, stores it once.
    var key = watched.id + ":" + kind, before = sentIds.get(key);
    var clientId = before && before.text === text ? before.client_id : uuid();
    var frame = { type: kind, conversation_id: watched.id, client_id: clientId, text: text };
    if (!send(frame)) return;
    outbox.set(clientId, { box: box, frame: frame });
    box.setAttribute("data-pending", "1");
    sentIds.set(key, { client_id: clientId, text: text });
    storeDrafts();
  }

  // What the agent began writing belongs to its chat: a reply half-typed to one player stayed
  // in the box when she opened another chat, and Enter sent it to the wrong player (a note,
  // into the wrong case). Each chat keeps its own, in this tab's sessionStorage too: a reload
  // lost them (a deploy's, or the one after the idle timeout signed her out, whose Enter was
  // refused and took the reply she had just written with it).
  var drafts = new Map();          // conversation id -> { reply, note }, the watched chat's in its boxes
  var sentIds = new Map();         // "<conversation id>:send|note" -> { client_id, text } sent, not yet acked
  var DRAFTS_KEY = "csbot-drafts", draftsRead = false;

  /** The tab's drafts, once the socket has said whose dashboard this is (`hello`). */
  function readDrafts() {
    if (draftsRead) return;
    draftsRead = true;
    try {
      var kept = JSON.parse(window.sessionStorage.getItem(DRAFTS_KEY));
      // Written by whoever was signed in on this tab: not for a colleague who signs in on it.
      if (kept && kept.user === me.id) { drafts = new Map(kept.drafts); sentIds = new Map(kept.sent || []); }
    } catch (e) { /* none, or storage refused */ }
  }

  function storeDrafts() {
    if (!draftsRead) return;       // not before they are read: the tab's drafts would be lost
    var all = Array.from(drafts);
    if (watched && (input.value || noteInput.value)) all.push([watched.id, { reply: input.value, note: noteInput.value }]);
    var sent = Array.from(sentIds);
    try {
      if (all.length || sent.length) window.sessionStorage.setItem(DRAFTS_KEY, JSON.stringify({ user: me.id, drafts: all, sent: sent }));
      else window.sessionStorage.removeItem(DRAFTS_KEY);
    } catch (e) { /* private mode, or full: kept for as long as the page is open */ }
  }
  [input, noteInput].forEach(function (box) { box.addEventListener("input", storeDrafts); });

  function keepDraft() {
    if (!watched) return;
    if (input.value || noteInput.value) drafts.set(watched.id, { reply: input.value, note: noteInput.value });
    else drafts.delete(watched.id);
  }

  function restoreDraft(id) {
    var draft = drafts.get(id) || { reply: "", note: "" };
    drafts.delete(id);
    input.value = draft.reply;
    noteInput.value = draft.note;
    counters.forEach(function (counter, box) { updateCounter(box); });
  }

  function resendOutbox() {
    outbox.forEach(function (sent) { send(sent.frame); });
  }

  function settle(clientId) {
    var sent = outbox.get(clientId);
    if (!sent) return null;
    outbox.delete(clientId);
    sent.box.removeAttribute("data-pending");
    return sent;
  }

  function onAck(f) {
    var sent = settle(f.client_id);
    if (!sent) return;
    sentIds.delete(sent.frame.conversation_id + ":" + sent.frame.type);
    storeDrafts();
    // Only what was sent goes: words typed since the send stay (in its chat's draft, when
    // the agent has opened another chat meanwhile).
    if (watched && watched.id === sent.frame.conversation_id) {
      if (sent.box.value.trim() === sent.frame.text) {
        sent.box.value = "";
        updateCounter(sent.box);
        storeDrafts();
      }
      return;
    }
    var draft = drafts.get(sent.frame.conversation_id), kind = sent.box === input ? "reply" : "note";
    if (draft && draft[kind].trim() === sent.frame.text) {
      draft[kind] = "";
      if (!draft.reply && !draft.note) drafts.delete(sent.frame.conversation_id);
      storeDrafts();
    }
  }

  function onError(f) {
    settle(f.client_id);             // refused: the text stays in its box
    if (f.action === "take_over" && watched && f.conversation_id === watched.id) {
      takingOver = null;             // what was typed stays, in a box locked again
      sendWhenMine = false;
      renderCase();
    }
    // "Alice has this chat already" describes the chat as Alice holds it, even when the
    // frames saying so come after this one.
    showError(f.message || f.code, f.holder ? "human:" + f.holder.id : caseKey());
  }

  /** Like the player's page: the count shows near the limit, and past it in red. */
  function updateCounter(box) {
    var counter = counters.get(box);
    var n = cpCount(box.value.trim());
    var over = n > MAX_CHARS;
    counter.textContent = n >= MAX_CHARS * 0.8 ? n + " / " + MAX_CHARS : "";
    counter.hidden = !counter.textContent;
    counter.classList.toggle("is-over", over);
    box.classList.toggle("is-over", over);
    if (!over && errorEl.getAttribute("data-kind") === "too_long") hideError();
  }
  counters.forEach(function (counter, box) { box.addEventListener("input", function () { updateCounter(box); }); });

  composer.addEventListener("submit", function (e) { e.preventDefault(); submitTo("send", input); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); submitTo("send", input); }
  });
  noteForm.addEventListener("submit", function (e) { e.preventDefault(); submitTo("note", noteInput); });
  noteInput.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); submitTo("note", noteInput); }
  });

  connect();
})();

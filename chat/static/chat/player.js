/*
 * csbot player chat: the browser side of docs/protocol.md.
 *
 * No build step. Needs marked (window.marked) and DOMPurify (window.DOMPurify),
 * both served locally from /static/vendor/, and markdown.js, which renders with
 * them for this page and the staff dashboard alike. Offsets and lengths count Unicode
 * code points, like Python's len().
 */
(function () {
  "use strict";

  var root = document.getElementById("chat-app");
  if (!root) return;

  // ---------------------------------------------------------------- config --
  var STRINGS = {};
  try {
    STRINGS = JSON.parse(document.getElementById("ui-strings").textContent) || {};
  } catch (e) { /* fall back to keys */ }

  // Words that follow the chat's language rather than the page's (the rating card), by language.
  var BY_LANGUAGE = {};
  try {
    BY_LANGUAGE = JSON.parse(document.getElementById("chat-language-strings").textContent) || {};
  } catch (e) { /* the page's words, or the keys */ }

  /** `language`: the chat's, for the words that follow it; else the page's. */
  function t(key, params, language) {
    var has = Object.prototype.hasOwnProperty;
    var page = BY_LANGUAGE[document.documentElement.lang] || {};
    var chat = (language && BY_LANGUAGE[language]) || page;
    var s = has.call(chat, key) ? chat[key] : has.call(page, key) ? page[key] : has.call(STRINGS, key) ? STRINGS[key] : key;
    if (params) {
      s = s.replace(/\{(\w+)\}/g, function (m, k) {
        return Object.prototype.hasOwnProperty.call(params, k) ? String(params[k]) : m;
      });
    }
    return s;
  }

  var WS_PATH = root.getAttribute("data-ws-path") || "/ws/chat/";
  var maxChars = parseInt(root.getAttribute("data-max-chars"), 10) || 2000;
  var PLAYER_ID = root.getAttribute("data-player-id") || "anon";
  var PENDING_KEY = "csbot:pending:" + PLAYER_ID;
  var LANG = document.documentElement.lang || undefined;

  var PING_MS = 25000;
  var DEAD_MS = 65000;            // no frame at all for this long: the socket is dead
  var TRY_AGAIN_MS = 1500;        // an `error` with code try_again: send the message again after this,
  var TRY_AGAIN_TIMES = 3;        // at most this many times, then it goes back into the box
  var RESEND_AFTER_MS = 20000;    // unacknowledged send on a live socket: send again
  var BACKOFF_MIN_MS = 500;
  var BACKOFF_MAX_MS = 10000;
  var REVEAL_MIN_CP = 12;         // chunks at least this long are revealed progressively
  var REVEAL_MAX_MS = 300;
  var REVEAL_MS_PER_CP = 8;
  var TYPING_TIMEOUT_MS = 90000;
  var TYPING_SEND_MS = 2500;      // our typing is told to the agent at most this often
  var AGENT_TYPING_MS = 5000;     // the agent's typing indicator lasts this long

  // ------------------------------------------------------------------ DOM --
  var $ = function (id) { return document.getElementById(id); };
  var list = $("messages");
  var scroller = $("scroller");
  var intro = $("intro");
  var typingEl = $("typing");
  var banner = $("connection");
  var bannerText = banner.querySelector(".connection__text");
  var retryBtn = $("connection-retry");
  var stateEl = $("conv-state");
  var stateText = stateEl ? stateEl.querySelector(".conv-state__text") : null;
  var form = $("composer");
  var input = $("composer-input");
  var sendBtn = $("composer-send");
  var errorEl = $("composer-error");
  var counterEl = $("composer-counter");
  var jumpBtn = $("jump");
  var handoffBtn = $("handoff");
  var backToBotBtn = $("back-to-bot");
  var agentTypingEl = $("agent-typing");
  var busyEl = $("typing-busy");

  // ------------------------------------------------------- code points --
  function isHigh(c) { return c >= 0xd800 && c <= 0xdbff; }
  function isLow(c) { return c >= 0xdc00 && c <= 0xdfff; }

  /** Number of code points in s (a lone surrogate counts as one, as in Python). */
  function cpCount(s) {
    var n = s.length;
    for (var i = 0; i < s.length - 1; i++) {
      if (isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1))) { n--; i++; }
    }
    return n;
  }

  /** UTF-16 index just after the first n code points of s. */
  function cpIndex(s, n) {
    var i = 0;
    while (n > 0 && i < s.length) {
      if (isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) i += 2;
      else i += 1;
      n--;
    }
    return i;
  }

  function newClientId() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === "function") {
      try { return c.randomUUID(); } catch (e) { /* not a secure context */ }
    }
    var b = new Uint8Array(16);
    if (c && typeof c.getRandomValues === "function") c.getRandomValues(b);
    else for (var i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // ------------------------------------------------------------ markdown --
  // The bot's answers and agents' messages, through the one sanitised path (markdown.js);
  // only answers cite sources.
  function renderMarkdown(el, text, citations) {
    if (window.csbotMarkdown.render(el, text) && citations) decorateCitations(el);
  }

  /** Wraps [n] markers in a span so they read as citations. */
  function decorateCitations(el) {
    if (el.textContent.indexOf("[") < 0) return;
    var walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT, {
      acceptNode: function (n) {
        return n.parentNode.closest("code, pre, a") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT;
      }
    });
    var nodes = [];
    while (walker.nextNode()) {
      if (/\[\d{1,2}\]/.test(walker.currentNode.nodeValue)) nodes.push(walker.currentNode);
    }
    nodes.forEach(function (node) {
      var frag = document.createDocumentFragment();
      var parts = node.nodeValue.split(/(\[\d{1,2}\])/);
      parts.forEach(function (p, i) {
        if (!p) return;
        if (i % 2 === 1) {
          var s = document.createElement("span");
          s.className = "cite";
          s.textContent = p;
          frag.appendChild(s);
        } else {
          frag.appendChild(document.createTextNode(p));
        }
      });
      node.parentNode.replaceChild(frag, node);
    });
  }

  var CARET_HOSTS = /^(P|UL|OL|LI|BLOCKQUOTE|H[1-6]|PRE|CODE|TABLE|TBODY|THEAD|TR|TD|TH|DIV)$/;

  function lastMeaningful(node) {
    var c = node.lastChild;
    while (c && c.nodeType === 3 && !c.nodeValue.trim()) c = c.previousSibling;
    return c;
  }

  function appendCaret(body) {
    var host = body;
    for (;;) {
      var last = lastMeaningful(host);
      if (last && last.nodeType === 1 && CARET_HOSTS.test(last.tagName)) host = last;
      else break;
    }
    var caret = document.createElement("span");
    caret.className = "caret";
    caret.setAttribute("aria-hidden", "true");
    host.appendChild(caret);
  }

  // --------------------------------------------------------------- model --
  var msgs = new Map();      // message id (string) -> record
  var pending = new Map();   // client_id -> { clientId, text, created, el, sentAt }
  var maxSeq = 0;
  var convId = null;
  var convState = null;
  var awaitingSince = 0;     // a player message was sent; the bot has shown nothing yet
  var firstResumeDone = false;

  var ws = null;
  var ready = false;         // `resumed` received on the current socket
  var resumeInFlight = false;
  var deferredEnds = [];     // `end` frames that arrive while a resume is in flight
  var attempt = 0;
  var reconnectTimer = 0;
  var everConnected = false;
  var lastFrameAt = 0;
  var gapResumeIds = new Set(); // unknown ids we already asked a resume for
  var sessionLost = false;

  // ------------------------------------------------------- sessionStorage --
  function savePending() {
    try {
      var arr = [];
      pending.forEach(function (p) {
        arr.push({ client_id: p.clientId, text: p.text, created: p.created, intent: p.intent || null, form: p.form || null });
      });
      if (arr.length) window.sessionStorage.setItem(PENDING_KEY, JSON.stringify(arr));
      else window.sessionStorage.removeItem(PENDING_KEY);
    } catch (e) { /* storage unavailable: memory only */ }
  }

  function loadPending() {
    var arr = [];
    try { arr = JSON.parse(window.sessionStorage.getItem(PENDING_KEY) || "[]") || []; } catch (e) { arr = []; }
    arr.forEach(function (x) {
      if (!x || typeof x.client_id !== "string" || typeof x.text !== "string" || pending.has(x.client_id)) return;
      var p = { clientId: x.client_id, text: x.text, created: x.created || new Date().toISOString(), el: null, sentAt: 0,
                intent: x.intent || null, form: x.form || null };
      p.el = buildPendingEl(p);
      pending.set(p.clientId, p);
      list.appendChild(p.el);
    });
  }

  // -------------------------------------------------------------- render --
  function fmtTime(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    try { return d.toLocaleTimeString(LANG, { hour: "2-digit", minute: "2-digit" }); } catch (e) { return ""; }
  }

  var STAR_SVG = '<svg viewBox="0 0 24 24" width="16" height="16"><path fill="currentColor" d="M12 2.5l2.6 6.1 6.6.6-5 4.4 1.5 6.5L12 16.7l-5.7 3.4 1.5-6.5-5-4.4 6.6-.6z"/></svg>';
  var AGENT_SVG = '<svg viewBox="0 0 24 24" width="16" height="16"><path fill="currentColor" d="M12 12a4.5 4.5 0 100-9 4.5 4.5 0 000 9zm0 2c-4.4 0-8 2.2-8 5v1.5h16V19c0-2.8-3.6-5-8-5z"/></svg>';

  function el(tag, cls) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    return e;
  }

  /** Builds the DOM skeleton of one message. */
  function buildMsgEl(sender) {
    var li = el("li", "msg msg--" + sender);
    li.setAttribute("data-testid", "message");
    li.setAttribute("data-sender", sender);
    var parts = { root: li };
    if (sender === "bot" || sender === "agent") {
      var av = el("div", "msg__avatar");
      av.setAttribute("aria-hidden", "true");
      av.innerHTML = sender === "bot" ? STAR_SVG : AGENT_SVG;   // static markup
      li.appendChild(av);
    }
    var main = el("div", "msg__main");
    li.appendChild(main);
    if (sender === "bot" || sender === "agent") {
      parts.label = el("div", "msg__label");
      main.appendChild(parts.label);
    } else if (sender === "player") {
      // Seen by their side of the screen; said to a screen reader, which reads the list as
      // one column: without it the player's lines and the assistant's ran together.
      var you = el("span", "visually-hidden");
      you.textContent = t("you") + ": ";
      main.appendChild(you);
    }
    parts.bubble = el("div", "msg__bubble");
    parts.body = el("div", "msg__body" + (sender === "bot" || sender === "agent" ? " md" : ""));
    parts.body.setAttribute("data-testid", "message-text");
    parts.bubble.appendChild(parts.body);
    main.appendChild(parts.bubble);
    parts.note = el("div", "msg__note");
    parts.note.hidden = true;
    main.appendChild(parts.note);
    parts.main = main;
    parts.sources = null;          // created when an answer has sources
    if (sender !== "system") {
      parts.meta = el("div", "msg__meta");
      parts.time = el("time", "msg__time");
      parts.status = el("span", "msg__status");
      parts.meta.appendChild(parts.time);
      parts.meta.appendChild(parts.status);
      main.appendChild(parts.meta);
    }
    return parts;
  }

  function buildPendingEl(p) {
    var parts = buildMsgEl("player");
    var li = parts.root;
    li.classList.add("is-pending");
    li.setAttribute("data-status", "pending");
    li.setAttribute("data-id", "");
    li.setAttribute("data-client-id", p.clientId);
    li.setAttribute("data-pending", "1");
    parts.body.textContent = p.text;
    parts.time.textContent = fmtTime(p.created);
    if (p.created) parts.time.setAttribute("datetime", p.created);
    parts.status.textContent = ready ? t("sending") : t("queued");
    li._parts = parts;
    return li;
  }

  function refreshPendingLabels() {
    pending.forEach(function (p) {
      if (p.el && p.el._parts) p.el._parts.status.textContent = ready ? t("sending") : t("queued");
    });
  }

  /** Inserts a stored message's element in seq order, before any pending bubbles and the rating card. */
  function place(li, seq) {
    var ref = list.lastElementChild;
    while (ref && (ref === li || ref.getAttribute("data-pending") === "1" || ref.getAttribute("data-trailing") === "1" ||
                   Number(ref.getAttribute("data-seq")) > seq)) {
      ref = ref.previousElementSibling;
    }
    var before = ref ? ref.nextSibling : list.firstChild;
    if (before === li) return;
    list.insertBefore(li, before);
  }

  function createRecord(m) {
    var sender = ["player", "bot", "agent", "system"].indexOf(m.sender) >= 0 ? m.sender : "system";
    var text = typeof m.text === "string" ? m.text : "";
    // A stored player message reads the same in every tab as an acknowledged one.
    var status = sender === "player" ? "sent" : (m.status || "done");
    var rec = {
      id: String(m.id),
      seq: typeof m.seq === "number" ? m.seq : 0,
      sender: sender,
      raw: text,
      cps: cpCount(text),          // counted once here, then kept up to date per delta
      status: status,
      sources: Array.isArray(m.sources) ? m.sources : [],
      quickReplies: Array.isArray(m.quick_replies) ? m.quick_replies : [],
      form: m.form && typeof m.form === "object" ? m.form : null,
      error: m.error || "",
      name: m.name || "",
      created: m.created || "",
      parts: buildMsgEl(sender),
      shown: -1,                   // UTF-16 length of the text currently in the DOM
      shownStreaming: null,
      shownStatus: null,
      reveal: null,                // { from, start, dur } while a chunk is being revealed
      // Blocks a screen reader has been told of; null: what the first render shows, which
      // before the first `resumed` is the history the player has seen (or can read) already.
      said: firstResumeDone ? 0 : null,
      saidEnd: false
    };
    var li = rec.parts.root;
    li.setAttribute("data-id", rec.id);
    li.setAttribute("data-seq", String(rec.seq));
    li.setAttribute("data-status", rec.status);
    rec.parts.time && (rec.parts.time.textContent = fmtTime(rec.created));
    if (rec.created && rec.parts.time) rec.parts.time.setAttribute("datetime", rec.created);
    msgs.set(rec.id, rec);
    place(li, rec.seq);
    renderRecord(rec, performance.now());
    return rec;
  }

  /**
   * Brings one message's DOM up to date. Returns true when it needs another
   * frame (a chunk is still being revealed).
   */
  function renderRecord(rec, now) {
    var parts = rec.parts;
    var li = parts.root;
    var text = rec.raw;
    var more = false;

    if (rec.reveal) {
      var r = rec.reveal;
      var frac = (now - r.start) / r.dur;
      if (frac >= 1) {
        rec.reveal = null;
      } else {
        var idx = r.from + Math.ceil((rec.raw.length - r.from) * Math.max(frac, 0));
        if (idx > 0 && idx < rec.raw.length && isHigh(rec.raw.charCodeAt(idx - 1))) idx++;
        text = rec.raw.slice(0, idx);
        more = true;
      }
    }
    // While revealing, the message still looks like it is streaming.
    var displayStatus = more ? "streaming" : rec.status;
    var streaming = displayStatus === "streaming";

    if (text.length !== rec.shown || streaming !== rec.shownStreaming) {
      if (rec.sender === "bot" || rec.sender === "agent") {
        renderMarkdown(parts.body, text, rec.sender === "bot");
        if (streaming && text) appendCaret(parts.body);
      } else {
        parts.body.textContent = text;
      }
      rec.shown = text.length;
      rec.shownStreaming = streaming;
    }
    li.classList.toggle("is-streaming", streaming);
    li.classList.toggle("is-empty", !text);

    if (parts.label) {
      var label = rec.sender === "bot" ? t("assistant") : (rec.name ? rec.name + " · " + t("agent") : t("agent"));
      if (parts.label.textContent !== label) parts.label.textContent = label;
    }

    if (rec.shownStatus !== displayStatus) {
      rec.shownStatus = displayStatus;
      li.setAttribute("data-status", displayStatus);
      // Notes under the answer.
      var note = "";
      var noteCls = "msg__note";
      if (displayStatus === "interrupted") { note = t("answer_stopped"); noteCls += " msg__note--stopped"; }
      else if (displayStatus === "failed") {
        note = t("answer_failed") + (rec.error ? " " + rec.error : "");
        noteCls += " msg__note--failed";
      }
      parts.note.className = noteCls;
      parts.note.textContent = note;
      parts.note.hidden = !note;
      li.classList.toggle("is-failed", displayStatus === "failed");
      // Sources.
      renderSources(rec, displayStatus === "streaming" ? [] : rec.sources);
      renderOffers(rec, displayStatus === "done");
      if (parts.status) parts.status.textContent = "";
    }
    announceRecord(rec, streaming, displayStatus);
    return more;
  }

  // ------------------------------------------------------ screen readers --
  // The list is not a live region (announce.js says why): each finished paragraph of an
  // answer, an agent's or a system message is said once, in the hidden #announcer.
  var announcer = window.csbotAnnounce ? new window.csbotAnnounce.Announcer($("announcer")) : null;

  function announceRecord(rec, streaming, displayStatus) {
    if (!announcer || rec.sender === "player") return;
    var blocks = window.csbotAnnounce.finished(rec.parts.body, streaming);
    var ended = !!TERMINAL[displayStatus];
    if (rec.said === null) {
      rec.said = blocks.length;
      rec.saidEnd = ended;
      return;
    }
    for (var i = rec.said; i < blocks.length; i++) {
      // Who is speaking, before the message's first words.
      announcer.say(i === 0 && rec.parts.label ? rec.parts.label.textContent + ": " + blocks[i] : blocks[i]);
    }
    rec.said = Math.max(rec.said, blocks.length);
    if (ended && !rec.saidEnd) {
      rec.saidEnd = true;
      if (displayStatus !== "done" && !rec.parts.note.hidden) announcer.say(rec.parts.note.textContent);
    }
  }

  function renderSources(rec, sources) {
    var box = rec.parts.sources;
    if (!sources || !sources.length) {
      if (box) { box.remove(); rec.parts.sources = null; }
      return;
    }
    if (!box) {
      box = rec.parts.sources = el("div", "msg__sources");
      box.setAttribute("data-testid", "sources");
      rec.parts.main.insertBefore(box, rec.parts.meta || null);
    }
    box.textContent = "";
    var head = el("div", "msg__sources-title");
    head.textContent = t("sources");
    var ol = el("ol", "msg__sources-list");
    sources.slice().sort(function (a, b) { return (a.n || 0) - (b.n || 0); }).forEach(function (s, i) {
      var li = el("li");
      var n = typeof s.n === "number" ? s.n : i + 1;
      li.value = n;
      li.setAttribute("data-n", String(n));
      var num = el("span", "msg__sources-n");
      num.textContent = "[" + n + "]";
      var title = el("span", "msg__sources-t");
      title.textContent = s.title || s.source_id || "";
      li.appendChild(num);
      li.appendChild(title);
      ol.appendChild(li);
    });
    box.appendChild(head);
    box.appendChild(ol);
  }

  // ------------------------------------------- quick replies, inline forms --
  // What the bot offers under an answer (docs/protocol.md): buttons that send a
  // message, and a small form for the facts it needs. Only the newest answer's
  // offers can be used, and each only once.
  var offerRecs = new Set();

  function onOffer(f, key, value) {
    var rec = msgs.get(String(f.id));
    if (!rec) return;
    rec[key] = value;
    rec.shownStatus = null;        // re-render the parts under the answer
    schedule(rec);
  }

  function offersLive(rec) {
    if (rec.offersUsed || pending.size) return false;
    var newest = true;
    msgs.forEach(function (other) { if (other.seq > rec.seq) newest = false; });
    return newest;
  }

  function renderOffers(rec, done) {
    var parts = rec.parts;
    var hasReplies = done && rec.quickReplies && rec.quickReplies.length;
    var hasForm = done && rec.form && rec.form.fields && rec.form.fields.length;
    if (!hasReplies && parts.replies) { parts.replies.remove(); parts.replies = null; }
    if (!hasForm && parts.form) { parts.form.remove(); parts.form = null; }
    if (hasReplies && !parts.replies) parts.replies = buildReplies(rec);
    if (hasForm && !parts.form) parts.form = buildForm(rec);
    if (hasReplies || hasForm) offerRecs.add(rec); else offerRecs.delete(rec);
    refreshOffer(rec);
  }

  function buildReplies(rec) {
    var box = el("div", "quick-replies");
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", t("quick_replies"));
    rec.quickReplies.forEach(function (o) {
      if (!o || typeof o.label !== "string") return;
      var b = el("button", "chip quick-reply");
      b.type = "button";
      b.setAttribute("data-testid", "quick-reply");
      if (o.intent) b.setAttribute("data-intent", o.intent);
      b.textContent = o.label;
      b.addEventListener("click", function () {
        if (!offersLive(rec)) return;
        rec.offersUsed = true;
        b.classList.add("is-chosen");
        submit(typeof o.text === "string" && o.text ? o.text : o.label, { intent: o.intent || null });
        refreshOffers();
        typeOn();
      });
      box.appendChild(b);
    });
    rec.parts.main.insertBefore(box, rec.parts.meta || null);
    return box;
  }

  function buildForm(rec) {
    var formEl = el("form", "inline-form");
    formEl.setAttribute("data-testid", "inline-form");
    formEl.setAttribute("data-form-id", rec.form.form_id || "");
    formEl.noValidate = true;
    // Its fields are described by its error line, so a screen reader says what to correct.
    var errorId = "form-error-" + rec.id;
    var inputs = [];
    rec.form.fields.forEach(function (field) {
      if (!field || typeof field.name !== "string") return;
      var row = el("label", "inline-form__field");
      var caption = el("span", "inline-form__label");
      caption.textContent = field.label || field.name;
      var control;
      if (field.type === "select" && Array.isArray(field.options)) {
        control = el("select", "inline-form__input");
        var blank = el("option");
        blank.value = "";
        blank.textContent = t("form_choose");
        control.appendChild(blank);
        field.options.forEach(function (opt) {
          var o = el("option");
          o.value = String(opt);
          o.textContent = String(opt);
          control.appendChild(o);
        });
      } else {
        control = el("input", "inline-form__input");
        control.type = "text";
        control.autocomplete = "off";
        // Ids, order numbers, item names: a phone's autocorrect and capitals only spoil them.
        control.setAttribute("autocapitalize", "off");
        control.setAttribute("autocorrect", "off");
        control.spellcheck = false;
        if (field.inputmode) control.setAttribute("inputmode", field.inputmode);
        if (field.placeholder) control.placeholder = field.placeholder;
      }
      control.name = field.name;
      if (field.required) control.required = true;   // read as "required"; the form checks itself (noValidate)
      control.setAttribute("aria-describedby", errorId);
      control.setAttribute("data-testid", "form-field-" + field.name);
      control._field = field;
      row.appendChild(caption);
      row.appendChild(control);
      formEl.appendChild(row);
      inputs.push(control);
    });
    var err = el("p", "inline-form__error");
    err.id = errorId;
    err.setAttribute("role", "alert");
    err.hidden = true;
    var btn = el("button", "inline-form__submit");
    btn.type = "submit";
    btn.setAttribute("data-testid", "form-submit");
    btn.textContent = t("form_submit");
    formEl.appendChild(err);
    formEl.appendChild(btn);
    formEl.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!offersLive(rec)) return;
      var values = {};
      var lines = [];
      var bad = [];
      inputs.forEach(function (c) {
        var v = c.value.trim();
        var f = c._field;
        var ok = v !== "" || !f.required;
        if (ok && v && f.pattern) {
          try { ok = new RegExp("^(?:" + f.pattern + ")$", "i").test(v); } catch (x) { ok = true; }
        }
        c.classList.toggle("is-invalid", !ok);
        c.setAttribute("aria-invalid", ok ? "false" : "true");
        if (!ok) bad.push(f.label || f.name);
        values[f.name] = v;
        if (v) lines.push((f.label || f.name) + ": " + v);
      });
      if (bad.length) {
        err.textContent = t("form_check", { fields: bad.join(", ") });
        err.hidden = false;
        return;
      }
      err.hidden = true;
      err.textContent = "";   // it describes the fields: no stale reason
      rec.offersUsed = true;
      submit(lines.join("\n"), { form: { form_id: rec.form.form_id, values: values } });
      refreshOffers();
      typeOn();
    });
    rec.parts.main.insertBefore(formEl, rec.parts.meta || null);
    return formEl;
  }

  // Whether the player's last input was a pointer (a tap, a click) or the keyboard.
  var pointerLast = false;
  document.addEventListener("pointerdown", function () { pointerLast = true; }, true);
  document.addEventListener("keydown", function () { pointerLast = false; }, true);

  /**
   * A used offer (or a sent rating) is disabled or replaced, and a disabled or removed
   * button drops the focus to the page's top: someone on a keyboard goes on typing in the
   * box instead. Not after a tap: on a phone the on-screen keyboard would open over the
   * answer they are about to read.
   */
  function typeOn() {
    if (!pointerLast) input.focus();
  }

  /** The server refused a form: let the player correct it. */
  function reopenForm(formId, message, fields) {
    msgs.forEach(function (rec) {
      if (!rec.form || rec.form.form_id !== formId || !rec.parts.form) return;
      rec.offersUsed = false;
      var err = rec.parts.form.querySelector(".inline-form__error");
      if (err) { err.textContent = message; err.hidden = false; }
      fields.forEach(function (name) {
        var c = rec.parts.form.querySelector('[name="' + name.replace(/[^\w-]/g, "") + '"]');
        if (c) c.classList.add("is-invalid");
      });
    });
    refreshOffers();
  }

  function refreshOffer(rec) {
    var live = offersLive(rec);
    var parts = rec.parts;
    if (parts.replies) {
      parts.replies.classList.toggle("is-used", !live);
      Array.prototype.forEach.call(parts.replies.querySelectorAll("button"), function (b) { b.disabled = !live; });
    }
    if (parts.form) {
      parts.form.classList.toggle("is-used", !live);
      Array.prototype.forEach.call(parts.form.elements, function (c) { c.disabled = !live; });
    }
  }

  function refreshOffers() {
    offerRecs.forEach(function (rec) {
      if (!rec.parts.root.isConnected) { offerRecs.delete(rec); return; }
      refreshOffer(rec);
    });
  }

  // -------------------------------------------------- frame scheduling --
  // Text that arrives is rendered on the next animation frame (never later),
  // and at most once per frame however many deltas came in.
  var dirty = new Set();
  var rafId = 0;
  var fallbackTimer = 0;

  function schedule(rec) {
    if (rec) dirty.add(rec);
    if (rafId) return;
    rafId = window.requestAnimationFrame(flush);
    // Hidden tabs get no animation frames; keep the DOM current anyway.
    fallbackTimer = window.setTimeout(flush, 250);
  }

  function flush() {
    if (rafId) window.cancelAnimationFrame(rafId);
    if (fallbackTimer) window.clearTimeout(fallbackTimer);
    rafId = 0;
    fallbackTimer = 0;
    var now = performance.now();
    var again = [];
    dirty.forEach(function (rec) { if (renderRecord(rec, now)) again.push(rec); });
    dirty.clear();
    updateTyping();
    updateIntro();
    refreshOffers();
    afterContentChange();
    if (again.length) again.forEach(schedule);
  }

  // The player's system asks for less motion: text shows as it comes, not typed out (as the
  // CSS stops the dots and the caret, player.css). `matches` follows the setting live.
  var reducedMotion = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : null;
  function lessMotion() { return !!(reducedMotion && reducedMotion.matches); }

  function appendText(rec, s, n) {
    if (!s) return;
    var prevLen = rec.raw.length;
    var fullyShown = rec.shown === prevLen && !rec.reveal;
    rec.raw += s;
    rec.cps += n;
    if (rec.reveal) {
      rec.reveal = null;          // more text while revealing: show everything now
    } else if (n >= REVEAL_MIN_CP && fullyShown && !document.hidden && !lessMotion()) {
      rec.reveal = { from: prevLen, start: performance.now(), dur: Math.min(REVEAL_MAX_MS, n * REVEAL_MS_PER_CP) };
    }
    if (rec.sender === "bot") awaitingSince = 0;
    schedule(rec);
  }

  // -------------------------------------------------------------- scroll --
  // The view follows new content while the reader is at the bottom ("pinned");
  // once they scroll up it stays put and offers a "new messages" button.
  var pinned = true;
  var programmaticTop = -1;

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 96;
  }

  function scrollToBottom() {
    scroller.scrollTop = scroller.scrollHeight;
    programmaticTop = scroller.scrollTop;
    pinned = true;
    jumpBtn.hidden = true;
  }

  function afterContentChange() {
    if (pinned) scrollToBottom();
    else if (!nearBottom()) jumpBtn.hidden = false;
  }

  var lastTop = 0;

  scroller.addEventListener("scroll", function () {
    var top = scroller.scrollTop;
    var own = Math.abs(top - programmaticTop) < 2;
    var up = top < lastTop - 1;
    lastTop = top;
    if (own) return;
    programmaticTop = -1;
    if (scroller.scrollHeight - top - scroller.clientHeight < 2) pinned = true;   // at the very end
    // Up, however little (a flick to read a line again on a phone is 50 px): the view
    // stays where the player put it. "Near the bottom" pinned them again, pulling the
    // view back down under their thumb with every word of the answer.
    else if (up) pinned = false;
    // Back down close to the newest line: follow it again.
    else if (nearBottom()) pinned = true;
    if (pinned) jumpBtn.hidden = true;
  }, { passive: true });
  jumpBtn.addEventListener("click", scrollToBottom);

  // ---------------------------------------------------- typing, intro --
  function updateTyping() {
    var show = false;
    if (awaitingSince && Date.now() - awaitingSince < TYPING_TIMEOUT_MS && convState !== "human" && convState !== "closed") {
      show = true;
    }
    msgs.forEach(function (rec) {
      if (rec.sender === "bot" && rec.status === "streaming" && rec.shown <= 0) show = true;
    });
    if (typingEl.hidden === show) {
      typingEl.hidden = !show;
      if (pinned) scrollToBottom();
      // Said, not left to a status region that appears: a region shown from display:none is
      // often not read, and a screen reader heard nothing between Enter and the first paragraph.
      if (show && firstResumeDone && announcer) announcer.say(t("assistant_typing"));
    }
    // Under the dots while the answer that waits out the LLM's rate limit has said nothing yet.
    var busy = busyFor ? msgs.get(busyFor) : null;
    var waiting = !!(show && busy && busy.status === "streaming" && busy.cps === 0);
    if (!waiting) busyFor = "";
    if (busyEl && busyEl.hidden === waiting) {
      busyEl.hidden = !waiting;
      if (pinned) scrollToBottom();
      if (waiting && announcer) announcer.say(busyEl.textContent);
    }
  }

  var busyFor = "";  // the id of the answer the server said is held back by a busy LLM

  function onBusy(f) {
    busyFor = String(f.id);
    updateTyping();
  }

  function updateIntro() {
    intro.hidden = !(firstResumeDone && msgs.size === 0 && pending.size === 0);
  }

  // --------------------------------------------------------- state line --
  function placeholderFor(s) {
    return s === "closed" ? t("closed_placeholder") : noAgent ? t("leave_message") : t("placeholder");
  }

  function setState(s, agent) {
    if (!s) return;
    convState = s;
    root.setAttribute("data-state", s);
    if (stateEl) stateEl.setAttribute("data-state", s);
    if (agent && agent.name) agentName = agent.name;
    showStateLine();
    if (s !== "waiting") noAgent = false;
    // A message sent to a closed conversation opens a new one (the server
    // then sends a new `welcome`), so the composer stays usable.
    input.placeholder = placeholderFor(s);
    autosize();   // an empty box as tall as its hint: on a phone the longer ones take two lines
    if (handoffBtn) handoffBtn.hidden = s !== "bot";
    // Waiting for a person (perhaps with nobody online): the player may go on with the bot.
    if (backToBotBtn) backToBotBtn.hidden = s !== "waiting";
    if (s !== "bot") awaitingSince = 0;
    if (s !== "human") showAgentTyping(null);
    updateTyping();
  }

  // ---------------------------------------------------- talking to people --
  var agentName = "";
  var noAgent = false;        // no agent was online when we asked: the player leaves a message
  var typingSentAt = 0;
  var agentTypingTimer = 0;

  function showAgentTyping(name) {
    if (!agentTypingEl) return;
    window.clearTimeout(agentTypingTimer);
    var appears = !!name && agentTypingEl.hidden;
    agentTypingEl.hidden = !name;
    if (!name) return;
    agentTypingEl.textContent = t("agent_typing", { name: name });
    // Said once as it appears, not on each of the agent's typing frames (every 2 s).
    if (appears && announcer) announcer.say(agentTypingEl.textContent);
    agentTypingTimer = window.setTimeout(function () { agentTypingEl.hidden = true; }, AGENT_TYPING_MS);
    if (pinned) scrollToBottom();
  }

  /** A system line about who holds the chat. */
  function onHandoffEvent(m) {
    if (m.event === "no_agent" || m.no_agent) noAgent = true;
    if (m.event === "taken_over" || m.event === "transferred" || m.event === "handed_back") noAgent = false;
    setState(convState);
  }

  function onTyping(f) {
    if (f.who === "agent") showAgentTyping(f.name || t("agent"));
  }

  if (handoffBtn) {
    handoffBtn.addEventListener("click", function () {
      if (sendFrame({ type: "handoff" })) handoffBtn.hidden = true;
    });
  }

  if (backToBotBtn) {
    backToBotBtn.addEventListener("click", function () {
      if (sendFrame({ type: "back_to_bot" })) backToBotBtn.hidden = true;
    });
  }

  // ---------------------------------------------------------- connection --
  var connKind = "connecting";

  /** The header's line: who the player is talking to, or, while the socket is not open, that. */
  function showStateLine() {
    if (!stateText) return;
    if (stateEl) stateEl.setAttribute("data-connection", connKind);
    var text = connKind !== "open" || !convState ? connText(connKind)
      : convState === "human" && agentName ? t("state_human_named", { name: agentName }) : t("state_" + convState);
    // A live region: the same words written again are read again, and every try to reconnect
    // (each socket made, each one lost) said "Reconnecting…" once more.
    if (stateText.textContent !== text) stateText.textContent = text;
  }

  function connText(kind) {
    return kind === "offline" ? t("offline") : kind === "reconnecting" ? t("reconnecting") :
           kind === "expired" ? t("session_expired") : t("connecting");
  }

  function setConn(kind) {
    banner.setAttribute("data-state", kind);
    root.setAttribute("data-connection", kind);
    connKind = kind;
    showStateLine();
    if (kind === "open") {
      banner.hidden = true;
      retryBtn.hidden = true;
      return;
    }
    bannerText.textContent = connText(kind);
    retryBtn.hidden = attempt === 0 && kind !== "expired";
    retryBtn.textContent = kind === "expired" ? t("reload") : t("retry");
    // The first connect usually takes a few ms: do not flash a banner for it.
    if (kind === "connecting" && attempt === 0) {
      window.setTimeout(function () {
        if (banner.getAttribute("data-state") === "connecting") banner.hidden = false;
      }, 800);
    } else {
      banner.hidden = false;
    }
  }

  function wsUrl() {
    if (/^wss?:\/\//.test(WS_PATH)) return WS_PATH;
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + WS_PATH;
  }

  function connect() {
    if (reconnectTimer) { window.clearTimeout(reconnectTimer); reconnectTimer = 0; }
    if (ws) return;
    var sock;
    try {
      sock = new WebSocket(wsUrl());
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    ready = false;
    resumeInFlight = false;
    // A try while the browser is offline (it fails at once) does not say "Reconnecting…" between
    // two "You are offline".
    setConn(navigator.onLine === false ? "offline" : (everConnected ? "reconnecting" : "connecting"));
    sock.addEventListener("open", function () {
      if (ws !== sock) return;
      lastFrameAt = Date.now();
    });
    sock.addEventListener("message", function (ev) {
      if (ws !== sock) return;
      lastFrameAt = Date.now();
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (!f || typeof f !== "object") return;
      if (f.t === "d") { onDelta(f); return; }   // a delta: the compact frame
      if (typeof f.type !== "string") return;
      handleFrame(f);
    });
    sock.addEventListener("close", function (ev) {
      if (ws !== sock) return;
      lostSocket(ev.code);
    });
  }

  function lostSocket(code) {
    var old = ws;
    ws = null;
    ready = false;
    resumeInFlight = false;
    // Ends held back for an unfinished resume are dropped: those answers are
    // still "streaming" here, so the next resume names them and the server
    // sends their missing text and their `end` again.
    deferredEnds = [];
    if (old) {
      try { old.close(); } catch (e) { /* already closing */ }
    }
    refreshPendingLabels();
    if (code === 4401) {
      // Refused: the player cookie is missing or no longer valid. Retrying
      // the socket cannot help; a reload of the page signs the player in again.
      sessionLost = true;
      setConn("expired");
      return;
    }
    setConn(navigator.onLine === false ? "offline" : (everConnected ? "reconnecting" : "connecting"));
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (reconnectTimer) return;
    var base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, attempt));
    var delay = Math.min(BACKOFF_MAX_MS, base * (0.75 + Math.random() * 0.5));   // ±25 % jitter
    attempt++;
    reconnectTimer = window.setTimeout(function () { reconnectTimer = 0; connect(); }, delay);
  }

  function reconnectNow() {
    if (sessionLost) return;
    attempt = 0;
    if (reconnectTimer) { window.clearTimeout(reconnectTimer); reconnectTimer = 0; }
    if (!ws) connect();
  }

  retryBtn.addEventListener("click", function () {
    if (sessionLost) window.location.reload();
    else reconnectNow();
  });
  window.addEventListener("online", reconnectNow);
  // The browser knows at once that the network is gone, but its socket can look open until the
  // next ping goes unanswered (DEAD_MS): the page said nothing, and what the player sent
  // meanwhile read "Sending…" into a dead socket. Drop the socket now: the page says it is
  // offline, a message sent meanwhile waits as "will be sent when the connection is back" (kept
  // in sessionStorage), and `online` connects again at once and resumes (docs/protocol.md).
  window.addEventListener("offline", function () {
    if (sessionLost) return;
    if (ws) lostSocket();
    else setConn("offline");
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      if (!ws) reconnectNow();
      schedule();
    }
  });

  // ------------------------------------------------------------- rating --
  // When a chat closes, the player is asked for a 1-5 rating and a comment.
  // `language`: the chat's (the `state` frame's, or `welcome.previous`'s), which its last lines use.
  function showCsat(conversationId, language) {
    if (!conversationId || scroller.querySelector('[data-testid="csat"][data-conversation="' + conversationId + '"]')) return;
    var card = el("li", "csat");
    card.setAttribute("data-testid", "csat");
    if (language && BY_LANGUAGE[language]) {
      card.setAttribute("lang", language);   // a screen reader reads it in its own language
    }
    // Below the chat's last lines, those still to come too ("This chat has been closed"
    // follows the `state` frame): place() puts messages before it.
    card.setAttribute("data-trailing", "1");
    card.setAttribute("data-conversation", conversationId);
    var title = el("p", "csat__title");
    title.id = "csat-title-" + conversationId;
    title.textContent = t("csat_question", null, language);
    var stars = el("div", "csat__scores");
    stars.setAttribute("role", "group");   // read as "This chat is closed. How did we do?, group"
    stars.setAttribute("aria-labelledby", title.id);
    var chosen = 0;
    for (var n = 1; n <= 5; n++) {
      var b = el("button", "csat__score");
      b.type = "button";
      b.textContent = String(n);
      b.setAttribute("data-testid", "csat-score-" + n);
      b.setAttribute("aria-label", t("csat_score", { n: n }, language));
      b.setAttribute("aria-pressed", "false");   // the chosen score is said, not only coloured
      b.addEventListener("click", (function (value) {
        return function () {
          chosen = value;
          Array.prototype.forEach.call(stars.children, function (c, i) {
            c.classList.toggle("is-on", i < value);
            c.setAttribute("aria-pressed", i === value - 1 ? "true" : "false");
          });
          submit.disabled = false;
        };
      })(n));
      stars.appendChild(b);
    }
    var comment = el("textarea", "csat__comment");
    comment.rows = 2;
    comment.maxLength = 1000;
    comment.placeholder = t("csat_comment", null, language);
    comment.setAttribute("aria-label", t("csat_comment", null, language));   // a placeholder is no label
    comment.setAttribute("data-testid", "csat-comment");
    var submit = el("button", "csat__submit");
    submit.type = "button";
    submit.disabled = true;
    submit.textContent = t("csat_submit", null, language);
    submit.setAttribute("data-testid", "csat-submit");
    submit.addEventListener("click", function () {
      if (!chosen) return;
      if (sendFrame({ type: "csat", conversation_id: Number(conversationId), score: chosen, comment: comment.value })) {
        submit.disabled = true;
      }
    });
    card.appendChild(title);
    card.appendChild(stars);
    card.appendChild(comment);
    card.appendChild(submit);
    list.appendChild(card);
    afterContentChange();
  }

  function onCsatThanks(f) {
    var card = scroller.querySelector('[data-testid="csat"][data-conversation="' + f.conversation_id + '"]');
    if (!card) return;
    var focused = document.activeElement;
    // The card's button had the focus (or lost it, disabled when the rating went).
    var hadFocus = !focused || focused === document.body || card.contains(focused);
    card.textContent = "";
    var done = el("p", "csat__thanks");
    done.textContent = t("csat_thanks", null, card.getAttribute("lang"));
    card.appendChild(done);
    if (announcer) announcer.say(done.textContent);
    if (hadFocus) typeOn();
  }

  function sendFrame(obj) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    try {
      ws.send(JSON.stringify(obj));
      return true;
    } catch (e) {
      return false;
    }
  }

  /** Asks for everything after our highest seq, and the rest of each streaming answer. */
  function sendResume() {
    var streams = {};
    msgs.forEach(function (rec) {
      if (rec.sender === "bot" && rec.status === "streaming") streams[rec.id] = rec.cps;
    });
    if (sendFrame({ type: "resume", after_seq: maxSeq, streams: streams })) resumeInFlight = true;
  }

  /** A frame was lost (an offset gap, an unknown id): ask again, once at a time. */
  function requestGapResume() {
    if (!ready || resumeInFlight) return;  // the resume under way covers it
    sendResume();
  }

  window.setInterval(function () {
    if (!ws) return;
    if (ws.readyState === WebSocket.OPEN) {
      if (lastFrameAt && Date.now() - lastFrameAt > DEAD_MS) { lostSocket(); return; }
      sendFrame({ type: "ping" });
      // A send that got no ack on a live socket is sent again (same client_id).
      if (ready) {
        var now = Date.now();
        pending.forEach(function (p) { if (p.sentAt && now - p.sentAt > RESEND_AFTER_MS) trySend(p); });
      }
    }
    schedule();   // lets a stale typing indicator time out
  }, PING_MS);

  // ------------------------------------------------------------- frames --
  function handleFrame(f) {
    switch (f.type) {
      case "welcome": onWelcome(f); break;
      case "ack": onAck(f); break;
      case "message": if (f.message && typeof f.message === "object") onMessage(f.message); break;
      case "end": if (resumeInFlight) deferredEnds.push(f); else onEnd(f); break;
      case "replace": onReplace(f); break;
      case "state": setState(f.state, f.agent); if (f.state === "closed") showCsat(convId, f.language); break;
      case "csat_thanks": onCsatThanks(f); break;
      case "typing": onTyping(f); break;
      case "busy": onBusy(f); break;
      case "resumed": onResumed(f); break;
      case "error": onError(f); break;
      case "quick_replies": onOffer(f, "quickReplies", Array.isArray(f.options) ? f.options : []); break;
      case "form": onOffer(f, "form", { form_id: f.form_id, fields: Array.isArray(f.fields) ? f.fields : [] }); break;
      case "pong": break;
      default: break;
    }
  }

  function onWelcome(f) {
    everConnected = true;
    var conv = f.conversation || {};
    if (convId !== null && conv.id !== undefined && String(conv.id) !== convId) {
      // A new conversation (the old one was closed): start the list afresh.
      resetConversation();
    }
    if (conv.id !== undefined && conv.id !== null) convId = String(conv.id);
    if (convId) root.setAttribute("data-conversation", convId);
    if (f.limits && typeof f.limits.max_chars === "number") {
      maxChars = f.limits.max_chars;
      updateCounter();
    }
    setState(conv.state, conv.agent);
    if (f.previous && typeof f.previous === "object") showPrevious(f.previous);
    sendResume();
  }

  /**
   * The chat that was closed while the player was away (`welcome.previous`): its last
   * messages above a divider, and the rating card unless they rated it already.
   */
  function showPrevious(prev) {
    var id = String(prev.id);
    if (!Array.isArray(prev.messages) || !prev.messages.length || msgs.size) return;
    if (scroller.querySelector('.archive[data-conversation="' + id + '"]')) return;   // on screen already
    var current = convId;
    convId = id;   // resetConversation files them under this id
    prev.messages.forEach(function (m) {
      var rec = createRecord(m);
      if (rec.sender === "system" && m.event) rec.parts.root.setAttribute("data-event", m.event);
    });
    if (!prev.rated) showCsat(id, prev.language);
    resetConversation();
    convId = current;
    // The new chat is still empty: the box says what it said before the reload, that the last
    // one is closed and a message starts a new one (submit() puts the usual words back).
    if (convState === "bot") {
      input.placeholder = t("closed_placeholder");
      autosize();
    }
    afterContentChange();
  }

  /** A new conversation began: keep the old one on screen above a divider. */
  function resetConversation() {
    if (msgs.size) {
      var archive = el("div", "archive");
      archive.setAttribute("data-conversation", convId || "");
      var old = el("ol", "messages messages--archived");
      Array.prototype.slice.call(list.children).forEach(function (li) {
        if (li.getAttribute("data-pending") !== "1") {
          li.setAttribute("data-archived", "1");
          old.appendChild(li);
        }
      });
      var divider = el("div", "divider");
      var span = el("span");
      span.textContent = t("new_conversation");
      divider.appendChild(span);
      archive.appendChild(old);
      archive.appendChild(divider);
      scroller.insertBefore(archive, list);
    }
    msgs.clear();
    dirty.clear();
    deferredEnds = [];
    maxSeq = 0;
    gapResumeIds.clear();
  }

  function onResumed() {
    resumeInFlight = false;
    if (!ready) {
      ready = true;
      attempt = 0;
      setConn("open");
      // Unacknowledged messages go (again) with the same client_id, in order.
      pending.forEach(function (p) { trySend(p); });
      refreshPendingLabels();
    }
    // After `ready`: an end that shows text still missing asks for another resume.
    applyDeferredEnds();
    firstResumeDone = true;
    schedule();
  }

  function applyDeferredEnds() {
    var ends = deferredEnds;
    deferredEnds = [];
    ends.forEach(onEnd);
  }

  function noteSeq(seq) {
    if (typeof seq === "number" && seq > maxSeq) maxSeq = seq;
  }

  function onAck(f) {
    noteSeq(f.seq);
    var p = pending.get(f.client_id);
    // A duplicate ack: the answer (if any) exists already and arrives through
    // `resume`/`message` frames, so nothing new is being typed for it.
    if (f.duplicate) awaitingSince = 0;
    if (!p) return;   // already confirmed
    if (errorEl.getAttribute("data-kind") === "try_again") { clearError(); errorEl.removeAttribute("data-kind"); }
    pending.delete(f.client_id);
    savePending();
    var id = String(f.id);
    if (msgs.has(id)) {
      // The stored copy already came with a resume (our first ack was lost).
      p.el.remove();
      schedule();
      return;
    }
    var li = p.el;
    var rec = {
      id: id,
      seq: typeof f.seq === "number" ? f.seq : 0,
      sender: "player",
      raw: p.text,
      cps: cpCount(p.text),
      status: "sent",
      sources: [],
      error: "",
      name: "",
      created: p.created,
      parts: li._parts,
      shown: p.text.length,
      shownStreaming: false,
      shownStatus: null,
      reveal: null
    };
    li.classList.remove("is-pending");
    li.removeAttribute("data-pending");
    li.setAttribute("data-id", id);
    li.setAttribute("data-seq", String(rec.seq));
    li.setAttribute("data-status", "sent");
    msgs.set(id, rec);
    place(li, rec.seq);
    renderRecord(rec, performance.now());
    schedule();
  }

  var TERMINAL = { done: 1, interrupted: 1, failed: 1 };

  function onMessage(m) {
    if (m.id === undefined || m.id === null) return;
    noteSeq(m.seq);
    if (m.internal) return;   // staff-only; a player socket should never get these
    var id = String(m.id);
    var rec = msgs.get(id);
    if (!rec && m.client_id && pending.has(m.client_id)) {
      // Our own message coming back: confirm it as an ack would.
      onAck({ client_id: m.client_id, id: m.id, seq: m.seq, duplicate: true });
      rec = msgs.get(id);
    }
    if (!rec) {
      rec = createRecord(m);
      gapResumeIds.delete(id);
      if (rec.sender === "bot" && rec.raw) awaitingSince = 0;
      if (rec.sender === "agent") { awaitingSince = 0; showAgentTyping(null); }
      if (rec.sender === "system" && m.event) { rec.parts.root.setAttribute("data-event", m.event); onHandoffEvent(m); }
      schedule(rec);
      if (m.busy) onBusy(m);   // opened while the answer waits out the model's rate limit
      return;
    }
    // Already known: keep what we have unless the frame is newer or longer.
    var text = typeof m.text === "string" ? m.text : "";
    var n = cpCount(text);
    if (n > rec.cps) {
      if (text.slice(0, rec.raw.length) === rec.raw) appendText(rec, text.slice(rec.raw.length), n - rec.cps);
      else { rec.raw = text; rec.cps = n; rec.reveal = null; rec.shown = -1; }
    }
    if (rec.status === "streaming" && TERMINAL[m.status]) {
      rec.status = m.status;
      if (Array.isArray(m.sources)) rec.sources = m.sources;
      if (m.error) rec.error = m.error;
    }
    if (m.name && m.name !== rec.name) rec.name = m.name;
    schedule(rec);
  }

  // A lost `end` (a full channel drops frames silently) would leave an answer
  // "streaming" for ever: after a long silence, ask the server where it stands.
  var lastStreamFrameAt = Date.now();
  var STREAM_SILENCE_MS = 20000;
  window.setInterval(function () {
    if (Date.now() - lastStreamFrameAt < STREAM_SILENCE_MS) return;
    var streaming = false;
    msgs.forEach(function (rec) { if (rec.sender === "bot" && rec.status === "streaming") streaming = true; });
    if (streaming) {
      lastStreamFrameAt = Date.now();
      requestGapResume();
    }
  }, 5000);

  /** A compact delta `{t: "d", i: id, o: offset, d: text}` (docs/protocol.md). */
  function onDelta(f) {
    lastStreamFrameAt = Date.now();
    var id = String(f.i);
    var rec = msgs.get(id);
    var d = typeof f.d === "string" ? f.d : "";
    var o = typeof f.o === "number" ? f.o : 0;
    if (!rec) {
      // Its `message` frame was lost: fetch it (once per id).
      if (!gapResumeIds.has(id) && ready && !resumeInFlight) { gapResumeIds.add(id); sendResume(); }
      return;
    }
    if (rec.status !== "streaming") return;   // already finished here
    var have = rec.cps;
    if (o > have) { requestGapResume(); return; }
    var start = cpIndex(d, have - o);         // drop what we already have
    if (start >= d.length) return;
    var add = d.slice(start);
    appendText(rec, add, cpCount(add));
  }

  function onEnd(f) {
    var rec = msgs.get(String(f.id));
    if (!rec) return;
    if (rec.sender === "bot") awaitingSince = 0;
    if (rec.status !== "streaming") return;
    // `n` is the final length. More than we hold: text is missing and no delta
    // will show the gap (a resume read a buffer that was behind). Resume like
    // for a gap; its reply brings the rest and this `end` again.
    if (typeof f.n === "number" && f.n > rec.cps) { requestGapResume(); return; }
    rec.status = TERMINAL[f.status] ? f.status : "done";
    rec.sources = Array.isArray(f.sources) ? f.sources : [];
    rec.error = typeof f.error === "string" ? f.error : "";
    schedule(rec);
  }

  /** The whole answer text is now f.text (what streamed must not stay on screen). */
  function onReplace(f) {
    var rec = msgs.get(String(f.id));
    if (!rec || typeof f.text !== "string") return;
    rec.raw = f.text;
    rec.cps = cpCount(f.text);
    rec.reveal = null;
    rec.shown = -1;
    if (rec.sender === "bot") awaitingSince = 0;
    schedule(rec);
  }

  function onError(f) {
    var msg = typeof f.message === "string" && f.message ? f.message : t("error_generic");
    var again = f.client_id ? pending.get(f.client_id) : null;
    if (f.code === "try_again" && again && (again.tries || 0) < TRY_AGAIN_TIMES) {
      // The server failed on its side (docs/protocol.md): the message stays pending and
      // goes again with the same client_id, which the server stores once.
      again.tries = (again.tries || 0) + 1;
      showError(msg);
      errorEl.setAttribute("data-kind", "try_again");
      window.setTimeout(function () { if (pending.get(again.clientId) === again) trySend(again); }, TRY_AGAIN_MS);
      return;
    }
    if (f.client_id && pending.has(f.client_id) && pending.get(f.client_id).form) {
      // A refused form: open it again, with the reason under it.
      var pf = pending.get(f.client_id);
      pending.delete(f.client_id);
      savePending();
      pf.el.remove();
      awaitingSince = 0;
      reopenForm(pf.form.form_id, msg, Array.isArray(f.fields) ? f.fields : []);
      schedule();
      return;
    }
    if (f.code === "try_again") msg = t("error_generic");   // tried enough: it goes back into the box
    if (f.client_id && pending.has(f.client_id)) {
      // The message was refused: take it back into the box, nothing is lost.
      var p = pending.get(f.client_id);
      pending.delete(f.client_id);
      savePending();
      p.el.remove();
      var cur = input.value;
      input.value = cur.trim() ? p.text + "\n" + cur : p.text;
      autosize();
      updateCounter();
      awaitingSince = 0;
      schedule();
    }
    showError(msg);
    if (f.code === "closed") setState("closed");
  }

  // ------------------------------------------------------------ composer --
  function showError(text) {
    errorEl.textContent = text;
    errorEl.hidden = false;
  }

  function clearError() {
    errorEl.textContent = "";
    errorEl.hidden = true;
  }

  function autosize() {
    input.style.height = "auto";
    var max = Math.round(window.innerHeight * 0.35);
    input.style.height = Math.min(input.scrollHeight, Math.max(max, 120)) + "px";
  }

  function updateCounter() {
    var n = cpCount(input.value.trim());
    var over = n > maxChars;
    if (n >= maxChars * 0.8) {
      counterEl.textContent = n + " / " + maxChars;
      counterEl.hidden = false;
    } else {
      counterEl.textContent = "";
      counterEl.hidden = true;
    }
    // The counter is not a live region (it would be read after every key once past 80 %):
    // a screen reader is told once, when the text goes over the limit.
    if (over && !input.classList.contains("is-over") && announcer) announcer.say(t("too_long", { count: n, max: maxChars }));
    counterEl.classList.toggle("is-over", over);
    input.classList.toggle("is-over", over);
    input.setAttribute("aria-invalid", over ? "true" : "false");
    if (!over && errorEl.getAttribute("data-kind") === "too_long") { clearError(); errorEl.removeAttribute("data-kind"); }
  }

  function trySend(p) {
    if (!ready) return false;
    var frame = p.form ? { type: "form_submit", client_id: p.clientId, form_id: p.form.form_id, values: p.form.values }
                       : { type: "send", client_id: p.clientId, text: p.text };
    if (p.intent && !p.form) frame.intent = p.intent;
    if (sendFrame(frame)) {
      p.sentAt = Date.now();
      // The bot is on it: show the typing dots until its answer shows text.
      if (convState === "bot") awaitingSince = Date.now();
      return true;
    }
    return false;
  }

  function submit(textOverride, extra) {
    var text = (typeof textOverride === "string" ? textOverride : input.value).trim();
    if (!text) { input.focus(); return; }
    var n = cpCount(text);
    if (n > maxChars) {
      showError(t("too_long", { count: n, max: maxChars }));
      errorEl.setAttribute("data-kind", "too_long");
      input.focus();
      return;                      // the text stays in the box
    }
    clearError();
    errorEl.removeAttribute("data-kind");
    var p = { clientId: newClientId(), text: text, created: new Date().toISOString(), el: null, sentAt: 0,
              intent: (extra && extra.intent) || null, form: (extra && extra.form) || null };
    p.el = buildPendingEl(p);
    pending.set(p.clientId, p);
    savePending();
    list.appendChild(p.el);
    if (typeof textOverride !== "string") input.value = "";
    input.placeholder = placeholderFor(convState);   // not the closed chat's hint any more
    autosize();
    updateCounter();
    trySend(p);
    scrollToBottom();
    schedule();
  }

  // Tapping Send must not take the focus from the box: on a phone the on-screen keyboard
  // would close, and open again when submit() gives it back, jumping the page twice. The
  // focus moves on mousedown, which a tap fires too.
  sendBtn.addEventListener("mousedown", function (e) { if (document.activeElement === input) e.preventDefault(); });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    submit();
    input.focus();
  });

  input.addEventListener("keydown", function (e) {
    if (e.key !== "Enter") return;
    // Never send while an IME (e.g. Chinese pinyin) is composing.
    if (e.isComposing || e.keyCode === 229) return;
    if (e.shiftKey || e.altKey) return;          // a new line
    e.preventDefault();
    submit();
  });

  input.addEventListener("input", function () {
    autosize();
    updateCounter();
    // A person (or the queue) is reading: tell them we are typing.
    if ((convState === "human" || convState === "waiting") && ready && Date.now() - typingSentAt > TYPING_SEND_MS) {
      typingSentAt = Date.now();
      sendFrame({ type: "typing" });
    }
  });

  Array.prototype.forEach.call(document.querySelectorAll("[data-suggestion]"), function (b) {
    b.addEventListener("click", function () {
      submit(b.getAttribute("data-suggestion"));
      input.focus();
    });
  });

  window.addEventListener("resize", function () { if (pinned) scrollToBottom(); });

  // ------------------------------------------------- on-screen keyboard --
  // Chrome on Android makes the page shorter for the keyboard (the viewport meta's
  // interactive-widget). iOS Safari does not: only the visual viewport shrinks, and the
  // page slides up under it, the header gone and the box and the newest message where
  // the keyboard may cover them. So the page takes the visible height itself.
  var vv = window.visualViewport;

  function fitToVisibleHeight() {
    if (Math.abs((vv.scale || 1) - 1) > 0.01) return;   // pinch-zoomed: the player is looking closer
    var shorter = vv.height < window.innerHeight - 1;
    if (shorter) document.body.style.setProperty("--visible-height", Math.round(vv.height) + "px");
    document.body.classList.toggle("is-keyboard-open", shorter);
    if (shorter && (vv.offsetTop > 0 || window.scrollY > 0)) window.scrollTo(0, 0);
    if (pinned) scrollToBottom();
  }

  // A short page (a phone in landscape with its keyboard open) gives the chat the header's
  // room (player.css, .is-short): at least two lines of messages stay in sight.
  var SHORT_PX = 320;
  function markShort() {
    var visible = vv && Math.abs((vv.scale || 1) - 1) <= 0.01 ? vv.height : window.innerHeight;
    document.body.classList.toggle("is-short", visible < SHORT_PX);
  }
  markShort();
  window.addEventListener("resize", markShort);

  if (vv) {
    vv.addEventListener("resize", markShort);
    vv.addEventListener("resize", fitToVisibleHeight);
    vv.addEventListener("scroll", function () { if (vv.height < window.innerHeight - 1) fitToVisibleHeight(); });
  }

  // --------------------------------------------------------------- start --
  loadPending();
  updateCounter();
  autosize();
  connect();
})();

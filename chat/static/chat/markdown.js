/*
 * csbot's one way of showing Markdown, for the player's page and the staff dashboard
 * alike: the bot's answers and what agents write (a pasted list, a link, bold) render
 * the same on both screens. marked parses; DOMPurify keeps only safe HTML, so nobody's
 * text can run a script or an event handler; links open in a new tab without the opener.
 *
 * No build step. Needs marked and DOMPurify from /static/vendor/; without them text
 * stays plain.
 */
(function () {
  "use strict";

  var able = !!(window.marked && typeof window.marked.parse === "function" &&
                window.DOMPurify && typeof window.DOMPurify.sanitize === "function");
  if (able) {
    window.DOMPurify.addHook("afterSanitizeAttributes", function (node) {
      if (node.tagName === "A" && node.hasAttribute("href")) {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer nofollow");
      }
    });
  }

  /** Shows `text` in `el` as sanitised HTML; false when it could only show it as plain text. */
  function render(el, text) {
    if (!able) { el.textContent = text; return false; }
    var html;
    try {
      html = window.marked.parse(text, { gfm: true, breaks: true, async: false });
    } catch (e) {
      el.textContent = text;
      return false;
    }
    el.innerHTML = window.DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
    return true;
  }

  window.csbotMarkdown = { render: render };
})();

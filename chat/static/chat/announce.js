/*
 * What a screen reader hears of the player's chat.
 *
 * The list of messages is not a live region: an answer is rendered again from its
 * Markdown on every animation frame while it streams (markdown.js replaces the
 * bubble's children), and a live list would read each of those renders out, the
 * answer over and over, a few words longer each time. Instead the page says each
 * paragraph (or list item) once, when it is complete, in a visually hidden
 * live region: the reader hears the answer as it is written, sentence group by
 * sentence group, and the player's own messages not at all.
 *
 * No build step; player.js uses window.csbotAnnounce.
 */
(function () {
  "use strict";

  var KEEP = 12;   // announcements kept in the region; older ones are removed (removals are not read)

  /** The text of each block of a rendered message body: paragraphs, list items, headings. */
  function blocks(body) {
    var out = [];
    function add(node) {
      var text = (node.textContent || "").replace(/\s+/g, " ").trim();
      if (text) out.push(text);
    }
    Array.prototype.forEach.call(body.childNodes, function (node) {
      if (node.nodeType === 1 && node.classList.contains("caret")) return;
      if (node.nodeType === 1 && (node.tagName === "UL" || node.tagName === "OL")) {
        Array.prototype.forEach.call(node.children, add);
      } else {
        add(node);
      }
    });
    return out;
  }

  /** The blocks of `body` that will not change any more: all but the last while it streams. */
  function finished(body, streaming) {
    var all = blocks(body);
    return streaming ? all.slice(0, -1) : all;
  }

  function Announcer(region) {
    this.region = region;
  }

  /** Queues `text` to be read (politely: after what the reader is saying now). */
  Announcer.prototype.say = function (text) {
    if (!this.region || !text) return;
    // A new node per announcement: screen readers read each addition in turn, where
    // rewriting one node's text could cut the previous announcement short.
    var p = document.createElement("p");
    p.textContent = text;
    this.region.appendChild(p);
    while (this.region.childNodes.length > KEEP) this.region.removeChild(this.region.firstChild);
  };

  window.csbotAnnounce = { Announcer: Announcer, blocks: blocks, finished: finished };
})();

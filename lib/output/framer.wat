;; framer.wat: the hot path of tend's output in WebAssembly SIMD.
;;
;; Build: `deno task wasm` (wabt's wat2wasm; SIMD and bulk memory are on by
;; default since wabt 1.0.30) writes the bytes into framer_wasm.ts, which is
;; what tend loads; tests/output/framer_wasm_test.ts checks the two agree.
;;
;; Three entry points, called by wasm.ts on memory it lays out itself (the
;; module never grows its memory, so views of it stay valid):
;;
;; - frame: finds the lines of a window of a child's output that can take
;;   the batch path (LineSink.lines): whole lines, at most `max` bytes long,
;;   valid UTF-8, with no character a text record escapes. Their bounds go
;;   into two i32 arrays. It stops in front of the first line it cannot
;;   take, and LineFramer's JS handles that one line.
;; - text, json: write the records of such lines (prefix, line, ending) into
;;   an output region, which wasm.ts then copies into the log's buffer.
;;
;; Framing is apart from encoding so that every sink (the output ring, the
;; log, a log probe, log files) gets the same lines through the existing
;; batch contract; encoding is then one more pass over bytes still in cache.
;;
;; Loads and stores are 16 bytes at a time and may reach up to 15 bytes past
;; what they are meant for: wasm.ts keeps 64 readable bytes of slack after
;; every region, and nothing past a line's bounds is ever taken as data.
(module
  ;; 640 KiB: what wasm.ts lays out (a window of 128 KiB, the bounds of
  ;; 8192 lines, 400 KiB of output); pages no flood has touched cost no RSS.
  (memory (export "memory") 10)

  ;; Results besides the return value.
  (global $count (export "count") (mut i32) (i32.const 0))   ;; lines framed
  (global $reason (export "reason") (mut i32) (i32.const 0)) ;; why frame stopped
  (global $out_pos (export "out_pos") (mut i32) (i32.const 0)) ;; end of output

  ;; ---- frame ---------------------------------------------------------------
  ;;
  ;; frame(in, inEnd, max, starts, ends, cap, base) walks [in, inEnd) line by
  ;; line from `in`. For each line it can take it stores the line's bounds
  ;; minus `base` at starts[i] and ends[i] (i32 each); the line is its bytes
  ;; without the "\n" and without one "\r" right before it (LineFramer's
  ;; rule: "\r\n" ends a line, whatever comes before). It returns the address
  ;; of the first byte not taken, always `in` or just after a "\n", with
  ;; `count` the lines taken and `reason` why it stopped:
  ;;
  ;;   0  no "\n" before inEnd: the rest is unfinished (or the window ends)
  ;;   1  `cap` lines taken: the caller hands them on and calls again
  ;;   2  the next line is longer than `max`: JS cuts it into pieces
  ;;   3  the next line has a byte a record escapes (a control character,
  ;;      a "\r" that is not before its "\n", DEL, a C1 control, U+2028,
  ;;      U+2029) or is not valid UTF-8: JS writes it the slow way
  ;;
  ;; Each 16-byte block is compared at once against everything that needs a
  ;; closer look: bytes below 0x20 but TAB (so "\n" and "\r" too), DEL, and
  ;; the lead bytes 0xC2 and 0xE2 (of C1 controls and of U+2028/U+2029, as
  ;; in plain.wat); printable ASCII alone is passed over first, 64 bytes at
  ;; a time. A line holding a byte >= 0x80 is then checked with
  ;; valid_utf8 (the OR of its blocks tells; bytes of the next line that
  ;; share its last block may cause a check that was not needed, never a
  ;; check that is skipped).
  (func (export "frame")
    (param $in i32) (param $inEnd i32) (param $max i32)
    (param $starts i32) (param $ends i32) (param $cap i32) (param $base i32)
    (result i32)
    (local $start i32)  ;; first byte of the current line
    (local $cur i32)    ;; the block being looked at
    (local $limit i32)  ;; where the search for the line's "\n" gives up
    (local $m i32)      ;; bits of the block's bytes that need a closer look
    (local $p i32)
    (local $b i32)
    (local $end i32)    ;; end of the line's bytes
    (local $nl i32)     ;; its "\n"
    (local $n i32)
    (local $v v128)
    (local $acc v128)   ;; OR of the line's blocks: bit 7 set = non-ASCII
    (local $c20 v128)   ;; 0x20 and 0x5E in every byte
    (local $c5e v128)
    (local.set $c20 (i8x16.splat (i32.const 0x20)))
    (local.set $c5e (i8x16.splat (i32.const 0x5e)))
    (local.set $start (local.get $in))
    (block $exit
      (loop $line
        ;; A line that takes is at most max bytes, plus "\r\n": its "\n" is
        ;; before start + max + 2 (unsigned; wasm.ts bounds max).
        (local.set $limit (i32.add (local.get $start) (i32.add (local.get $max) (i32.const 2))))
        (if (i32.gt_u (local.get $limit) (local.get $inEnd))
          (then (local.set $limit (local.get $inEnd))))
        (local.set $cur (local.get $start))
        (local.set $acc (v128.const i64x2 0 0))
        ;; Printable ASCII, 0x20..0x7E, is most of what children print: it
        ;; needs no closer look (and has no byte >= 0x80), so it is passed
        ;; over 64 bytes at a time first: x - 0x20 > 0x5E (unsigned) for
        ;; every other byte.
        (block $mixed
          (loop $ascii
            (br_if $mixed (i32.gt_u (i32.add (local.get $cur) (i32.const 64)) (local.get $limit)))
            (br_if $mixed
              (v128.any_true
                (v128.or
                  (v128.or
                    (i8x16.gt_u (i8x16.sub (v128.load (local.get $cur)) (local.get $c20))
                                (local.get $c5e))
                    (i8x16.gt_u (i8x16.sub (v128.load offset=16 (local.get $cur)) (local.get $c20))
                                (local.get $c5e)))
                  (v128.or
                    (i8x16.gt_u (i8x16.sub (v128.load offset=32 (local.get $cur)) (local.get $c20))
                                (local.get $c5e))
                    (i8x16.gt_u (i8x16.sub (v128.load offset=48 (local.get $cur)) (local.get $c20))
                                (local.get $c5e))))))
            (local.set $cur (i32.add (local.get $cur) (i32.const 64)))
            (br $ascii)))
        (block $found
          (loop $scan
            (if (i32.ge_u (local.get $cur) (local.get $limit))
              (then (global.set $reason (call $noEnd (local.get $limit) (local.get $inEnd))) (br $exit)))
            (local.set $v (v128.load (local.get $cur)))
            ;; A block of printable ASCII alone: on to the next.
            (if (i32.eqz (v128.any_true
                  (i8x16.gt_u (i8x16.sub (local.get $v) (local.get $c20)) (local.get $c5e))))
              (then
                (local.set $cur (i32.add (local.get $cur) (i32.const 16)))
                (br $scan)))
            (local.set $acc (v128.or (local.get $acc) (local.get $v)))
            (local.set $m
              (i8x16.bitmask
                (v128.or
                  (v128.or
                    ;; below 0x20 and not TAB
                    (v128.andnot
                      (i8x16.lt_u (local.get $v) (i8x16.splat (i32.const 0x20)))
                      (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x09))))
                    (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x7f))))
                  (v128.or
                    (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0xc2)))
                    (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0xe2)))))))
            ;; The flagged bytes of this block, in order.
            (block $next_block
              (loop $flag
                (br_if $next_block (i32.eqz (local.get $m)))
                (local.set $p (i32.add (local.get $cur) (i32.ctz (local.get $m))))
                ;; Past the search: the slack after the window, or a long line.
                (if (i32.ge_u (local.get $p) (local.get $limit))
                  (then (global.set $reason (call $noEnd (local.get $limit) (local.get $inEnd))) (br $exit)))
                (local.set $b (i32.load8_u (local.get $p)))
                (if (i32.eq (local.get $b) (i32.const 0x0a))
                  (then
                    (local.set $end (local.get $p))
                    (local.set $nl (local.get $p))
                    (br $found)))
                (if (i32.eq (local.get $b) (i32.const 0x0d))
                  (then
                    ;; Its "\n" would be at the search's end: not in this
                    ;; window, or the line is too long anyway.
                    (if (i32.ge_u (i32.add (local.get $p) (i32.const 1)) (local.get $limit))
                      (then (global.set $reason (call $noEnd (local.get $limit) (local.get $inEnd))) (br $exit)))
                    (if (i32.eq (i32.load8_u offset=1 (local.get $p)) (i32.const 0x0a))
                      (then
                        (local.set $end (local.get $p))
                        (local.set $nl (i32.add (local.get $p) (i32.const 1)))
                        (br $found)))
                    ;; A "\r" the line keeps: a text record shows it as \r.
                    (global.set $reason (i32.const 3)) (br $exit)))
                (if (i32.eq (local.get $b) (i32.const 0xc2))
                  (then
                    ;; C2 80..C2 9F are the C1 controls (NEL among them); a
                    ;; byte below 0x80 after C2 is not UTF-8 at all.
                    (if (i32.lt_u (i32.load8_u offset=1 (local.get $p)) (i32.const 0xa0))
                      (then (global.set $reason (i32.const 3)) (br $exit)))
                    (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
                    (br $flag)))
                (if (i32.eq (local.get $b) (i32.const 0xe2))
                  (then
                    ;; E2 80 A8 and E2 80 A9 are U+2028 and U+2029.
                    (if (i32.and
                          (i32.eq (i32.load8_u offset=1 (local.get $p)) (i32.const 0x80))
                          (i32.eq (i32.or (i32.load8_u offset=2 (local.get $p)) (i32.const 1))
                                  (i32.const 0xa9)))
                      (then (global.set $reason (i32.const 3)) (br $exit)))
                    (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
                    (br $flag)))
                ;; Any other control character, or DEL.
                (global.set $reason (i32.const 3)) (br $exit)))
            (local.set $cur (i32.add (local.get $cur) (i32.const 16)))
            (br $scan)))
        ;; The line is [start, end); its "\n" is at nl.
        (if (i32.gt_u (i32.sub (local.get $end) (local.get $start)) (local.get $max))
          (then (global.set $reason (i32.const 2)) (br $exit)))
        (if (i8x16.bitmask (local.get $acc))
          (then
            (if (i32.eqz (call $valid_utf8 (local.get $start) (local.get $end)))
              (then (global.set $reason (i32.const 3)) (br $exit)))))
        (i32.store (i32.add (local.get $starts) (i32.shl (local.get $n) (i32.const 2)))
          (i32.sub (local.get $start) (local.get $base)))
        (i32.store (i32.add (local.get $ends) (i32.shl (local.get $n) (i32.const 2)))
          (i32.sub (local.get $end) (local.get $base)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (local.set $start (i32.add (local.get $nl) (i32.const 1)))
        (br_if $line (i32.lt_u (local.get $n) (local.get $cap)))
        (global.set $reason (i32.const 1))))
    (global.set $count (local.get $n))
    (local.get $start))

  ;; Why no "\n" was found before `limit`: the window ended (0) or the line
  ;; is longer than max (2).
  (func $noEnd (param $limit i32) (param $inEnd i32) (result i32)
    (select (i32.const 0) (i32.const 2) (i32.eq (local.get $limit) (local.get $inEnd))))

  ;; ---- records ---------------------------------------------------------------

  ;; Copies n bytes from src to dst: 16 at a time for the short runs most
  ;; lines and every prefix are (a memory.copy costs more below about 128
  ;; bytes); may write up to 15 bytes past dst + n.
  (func $copy (param $dst i32) (param $src i32) (param $n i32)
    (local $end i32)
    (if (i32.ge_u (local.get $n) (i32.const 128))
      (then (memory.copy (local.get $dst) (local.get $src) (local.get $n)) (return)))
    (local.set $end (i32.add (local.get $src) (local.get $n)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (v128.store (local.get $dst) (v128.load (local.get $src)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br $next))))

  ;; text(bytes, starts, ends, i, n, out, outEnd, pre, preLen) writes the text
  ;; records `prefix ++ line ++ "\n"` of lines i..n-1, line k being
  ;; [bytes + starts[k], bytes + ends[k]), into [out, outEnd). The lines are
  ;; frame's: nothing in them is escaped. Returns the first line not
  ;; written (n, or where the room ran out); out_pos is the output's end.
  (func (export "text")
    (param $bytes i32) (param $starts i32) (param $ends i32) (param $i i32) (param $n i32)
    (param $out i32) (param $outEnd i32) (param $pre i32) (param $preLen i32)
    (result i32)
    (local $s i32) (local $len i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (i32.add (local.get $bytes)
          (i32.load (i32.add (local.get $starts) (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $len (i32.sub
          (i32.add (local.get $bytes)
            (i32.load (i32.add (local.get $ends) (i32.shl (local.get $i) (i32.const 2)))))
          (local.get $s)))
        ;; Room for the record and the 16-byte overshoot of its stores.
        (br_if $done (i32.gt_u
          (i32.add (i32.add (local.get $out) (local.get $preLen))
                   (i32.add (local.get $len) (i32.const 33)))
          (local.get $outEnd)))
        (call $copy (local.get $out) (local.get $pre) (local.get $preLen))
        (local.set $out (i32.add (local.get $out) (local.get $preLen)))
        (call $copy (local.get $out) (local.get $s) (local.get $len))
        (local.set $out (i32.add (local.get $out) (local.get $len)))
        (i32.store8 (local.get $out) (i32.const 0x0a))
        (local.set $out (i32.add (local.get $out) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (global.set $out_pos (local.get $out))
    (local.get $i))

  ;; Lower-case hex digit of the low 4 bits of x.
  (func $hex (param $x i32) (result i32)
    (local.set $x (i32.and (local.get $x) (i32.const 15)))
    (select (i32.add (local.get $x) (i32.const 0x30))
            (i32.add (local.get $x) (i32.const 0x57))
            (i32.lt_u (local.get $x) (i32.const 10))))

  ;; json(bytes, starts, ends, i, n, out, outEnd, pre, preLen, suf, sufLen)
  ;; writes the JSON records `prefix ++ escaped line ++ suffix` of lines
  ;; i..n-1 as text does. Escaping is escape.ts's for valid text: `"` and
  ;; `\` get a backslash, "\n", TAB and "\r" become \n, \t and \r, other
  ;; bytes below 0x20 \u00xx (lower-case hex), everything else is copied.
  ;; (frame's lines have no control character but TAB; the rest is here so
  ;; that this stays correct JSON whatever it is given.)
  (func (export "json")
    (param $bytes i32) (param $starts i32) (param $ends i32) (param $i i32) (param $n i32)
    (param $out i32) (param $outEnd i32) (param $pre i32) (param $preLen i32)
    (param $suf i32) (param $sufLen i32)
    (result i32)
    (local $cur i32) (local $e i32) (local $o i32) (local $m i32) (local $k i32)
    (local $b i32) (local $v v128)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $cur (i32.add (local.get $bytes)
          (i32.load (i32.add (local.get $starts) (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $e (i32.add (local.get $bytes)
          (i32.load (i32.add (local.get $ends) (i32.shl (local.get $i) (i32.const 2))))))
        ;; Room for the worst case, every byte \u00xx, and the overshoot.
        (br_if $done (i32.gt_u
          (i32.add
            (i32.add (i32.add (local.get $out) (local.get $preLen)) (local.get $sufLen))
            (i32.add (i32.mul (i32.sub (local.get $e) (local.get $cur)) (i32.const 6))
                     (i32.const 33)))
          (local.get $outEnd)))
        (call $copy (local.get $out) (local.get $pre) (local.get $preLen))
        (local.set $o (i32.add (local.get $out) (local.get $preLen)))
        (block $line_done
          (loop $scan
            (br_if $line_done (i32.ge_u (local.get $cur) (local.get $e)))
            ;; Store the block as it is, then see whether it holds a byte to
            ;; escape (only those before the line's end count).
            (local.set $v (v128.load (local.get $cur)))
            (v128.store (local.get $o) (local.get $v))
            (local.set $m
              (i8x16.bitmask
                (v128.or
                  (i8x16.lt_u (local.get $v) (i8x16.splat (i32.const 0x20)))
                  (v128.or (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x22)))
                           (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x5c)))))))
            (local.set $k (i32.sub (local.get $e) (local.get $cur)))
            (if (i32.lt_u (local.get $k) (i32.const 16))
              (then
                (local.set $m (i32.and (local.get $m)
                  (i32.sub (i32.shl (i32.const 1) (local.get $k)) (i32.const 1))))))
            (if (i32.eqz (local.get $m))
              (then
                ;; Nothing to escape: on to the next block (or the end).
                (if (i32.gt_u (local.get $k) (i32.const 16)) (then (local.set $k (i32.const 16))))
                (local.set $cur (i32.add (local.get $cur) (local.get $k)))
                (local.set $o (i32.add (local.get $o) (local.get $k)))
                (br $scan)))
            ;; Bytes before the first one to escape are in place already.
            (local.set $k (i32.ctz (local.get $m)))
            (local.set $cur (i32.add (local.get $cur) (local.get $k)))
            (local.set $o (i32.add (local.get $o) (local.get $k)))
            (local.set $b (i32.load8_u (local.get $cur)))
            (i32.store8 (local.get $o) (i32.const 0x5c))
            (block $escaped
              (if (i32.or (i32.eq (local.get $b) (i32.const 0x22))
                          (i32.eq (local.get $b) (i32.const 0x5c)))
                (then
                  (i32.store8 offset=1 (local.get $o) (local.get $b))
                  (local.set $o (i32.add (local.get $o) (i32.const 2))) (br $escaped)))
              (if (i32.eq (local.get $b) (i32.const 0x0a))
                (then
                  (i32.store8 offset=1 (local.get $o) (i32.const 0x6e)) ;; n
                  (local.set $o (i32.add (local.get $o) (i32.const 2))) (br $escaped)))
              (if (i32.eq (local.get $b) (i32.const 0x09))
                (then
                  (i32.store8 offset=1 (local.get $o) (i32.const 0x74)) ;; t
                  (local.set $o (i32.add (local.get $o) (i32.const 2))) (br $escaped)))
              (if (i32.eq (local.get $b) (i32.const 0x0d))
                (then
                  (i32.store8 offset=1 (local.get $o) (i32.const 0x72)) ;; r
                  (local.set $o (i32.add (local.get $o) (i32.const 2))) (br $escaped)))
              ;; \u00xx
              (i32.store8 offset=1 (local.get $o) (i32.const 0x75))
              (i32.store8 offset=2 (local.get $o) (i32.const 0x30))
              (i32.store8 offset=3 (local.get $o) (i32.const 0x30))
              (i32.store8 offset=4 (local.get $o) (call $hex (i32.shr_u (local.get $b) (i32.const 4))))
              (i32.store8 offset=5 (local.get $o) (call $hex (local.get $b)))
              (local.set $o (i32.add (local.get $o) (i32.const 6))))
            (local.set $cur (i32.add (local.get $cur) (i32.const 1)))
            (br $scan)))
        (call $copy (local.get $o) (local.get $suf) (local.get $sufLen))
        (local.set $out (i32.add (local.get $o) (local.get $sufLen)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (global.set $out_pos (local.get $out))
    (local.get $i))

  ;; ---- UTF-8 validation ------------------------------------------------------
  ;;
  ;; valid_utf8(p, end) is 1 when [p, end) is valid UTF-8 (RFC 3629: no
  ;; overlongs, no surrogates, nothing above U+10FFFF), else 0: the same
  ;; answer as node:buffer isUtf8. It is the "lookup" algorithm of Keiser &
  ;; Lemire, "Validating UTF-8 In Less Than One Instruction Per Byte"
  ;; (2021), as in simdjson/simdutf: each byte is classified by three
  ;; 16-entry tables, indexed by the high nibble of the byte before it, the
  ;; low nibble of the byte before it and its own high nibble; the AND of
  ;; the three is non-zero exactly for the invalid 2-byte patterns. Bits:
  ;;   1 TOO_SHORT   lead byte not followed by a continuation
  ;;   2 TOO_LONG    ASCII followed by a continuation
  ;;   4 OVERLONG_3  E0 followed by 80..9F
  ;;   8 TOO_LARGE   F4 followed by 90..BF, or F5..FF
  ;;  16 SURROGATE   ED followed by A0..BF
  ;;  32 OVERLONG_2  C0/C1 lead
  ;;  64 TOO_LARGE_1000 / OVERLONG_4   F5.. followed by 80..8F / F0 by 80..8F
  ;; 128 TWO_CONTS   continuation after continuation: only valid as the 3rd
  ;;                 or 4th byte of a sequence, checked against the lead
  ;;                 bytes 2 and 3 back.
  ;; Blocks without a byte >= 0x80 are skipped, apart from checking that the
  ;; block before did not end inside a character.
  (func $valid_utf8 (export "valid_utf8") (param $p i32) (param $end i32) (result i32)
    (local $cur v128) (local $prev v128) (local $err v128) (local $incomplete v128)
    (local $prev1 v128) (local $sc v128) (local $must23 v128)
    (local $n i32)
    (block $done
      (loop $block
        (local.set $n (i32.sub (local.get $end) (local.get $p)))
        (br_if $done (i32.le_s (local.get $n) (i32.const 0)))
        (local.set $cur (v128.load (local.get $p)))
        ;; A last, partial block: bytes past end become 0 (ASCII).
        (if (i32.lt_u (local.get $n) (i32.const 16))
          (then
            (local.set $cur
              (v128.and (local.get $cur)
                (i8x16.gt_u (i8x16.splat (local.get $n))
                  (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15))))))
        (if (i8x16.bitmask (local.get $cur))
          (then
            ;; prev1 = the byte before each byte; prev2, prev3 further back.
            (local.set $prev1
              (i8x16.shuffle 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30
                (local.get $prev) (local.get $cur)))
            (local.set $sc
              (v128.and
                (v128.and
                  (i8x16.swizzle
                    (v128.const i8x16 2 2 2 2 2 2 2 2 128 128 128 128 33 1 21 73)
                    (i8x16.shr_u (local.get $prev1) (i32.const 4)))
                  (i8x16.swizzle
                    (v128.const i8x16 231 163 131 131 139 203 203 203 203 203 203 203 203 219 203 203)
                    (v128.and (local.get $prev1) (i8x16.splat (i32.const 0x0f)))))
                (i8x16.swizzle
                  (v128.const i8x16 1 1 1 1 1 1 1 1 230 174 186 186 1 1 1 1)
                  (i8x16.shr_u (local.get $cur) (i32.const 4)))))
            ;; Where 2 or 3 bytes back is a 3- or 4-byte lead, a continuation
            ;; must follow (bit 7 of sc says there is one after one).
            (local.set $must23
              (v128.or
                (i8x16.sub_sat_u
                  (i8x16.shuffle 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
                    (local.get $prev) (local.get $cur))
                  (i8x16.splat (i32.const 0x60)))   ;; 0xe0 - 0x80
                (i8x16.sub_sat_u
                  (i8x16.shuffle 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28
                    (local.get $prev) (local.get $cur))
                  (i8x16.splat (i32.const 0x70)))))  ;; 0xf0 - 0x80
            (local.set $err
              (v128.or (local.get $err)
                (v128.xor (local.get $sc)
                  (v128.and (local.get $must23) (i8x16.splat (i32.const 0x80))))))
            ;; Does this block end inside a character?
            (local.set $incomplete
              (i8x16.gt_u (local.get $cur)
                (v128.const i8x16 255 255 255 255 255 255 255 255 255 255 255 255 255 0xef 0xdf 0xbf))))
          (else
            (local.set $err (v128.or (local.get $err) (local.get $incomplete)))
            (local.set $incomplete (v128.const i64x2 0 0))))
        (local.set $prev (local.get $cur))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $block)))
    (i32.eqz (v128.any_true (v128.or (local.get $err) (local.get $incomplete)))))
)

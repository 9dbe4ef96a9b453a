;; scan(i, end, lf): the index of the first byte in memory[i..end) that a
;; text record may have to escape, or end. Flagged: bytes below 0x20 but
;; TAB (and LF when lf is 1), DEL, and the lead bytes 0xC2 and 0xE2 (of C1
;; controls, U+2028 and U+2029); the caller looks closer at each.
(module
  (memory (export "memory") 1)
  (func (export "scan") (param $i i32) (param $end i32) (param $lf i32) (result i32)
    (local $v v128) (local $m v128) (local $lfmask v128) (local $b i32)
    ;; all ones when LF is allowed, else zero
    i32.const 0
    local.get $lf
    i32.sub
    i8x16.splat
    local.set $lfmask
    block $simd_done
      loop $simd
        local.get $i
        i32.const 16
        i32.add
        local.get $end
        i32.gt_u
        br_if $simd_done
        local.get $i
        v128.load
        local.set $v
        ;; below 0x20, but not TAB nor an allowed LF
        local.get $v
        i32.const 0x20
        i8x16.splat
        i8x16.lt_u
        local.get $v
        i32.const 0x09
        i8x16.splat
        i8x16.eq
        local.get $v
        i32.const 0x0a
        i8x16.splat
        i8x16.eq
        local.get $lfmask
        v128.and
        v128.or
        v128.andnot
        ;; DEL, 0xC2, 0xE2
        local.get $v
        i32.const 0x7f
        i8x16.splat
        i8x16.eq
        v128.or
        local.get $v
        i32.const 0xc2
        i8x16.splat
        i8x16.eq
        v128.or
        local.get $v
        i32.const 0xe2
        i8x16.splat
        i8x16.eq
        v128.or
        local.tee $m
        v128.any_true
        if
          local.get $i
          local.get $m
          i8x16.bitmask
          i32.ctz
          i32.add
          return
        end
        local.get $i
        i32.const 16
        i32.add
        local.set $i
        br $simd
      end
    end
    ;; the last few bytes, one at a time
    block $done
      loop $tail
        local.get $i
        local.get $end
        i32.ge_u
        br_if $done
        local.get $i
        i32.load8_u
        local.tee $b
        i32.const 0x20
        i32.lt_u
        if
          local.get $b
          i32.const 0x09
          i32.ne
          local.get $b
          i32.const 0x0a
          i32.ne
          local.get $lf
          i32.eqz
          i32.or
          i32.and
          if
            local.get $i
            return
          end
        end
        local.get $b
        i32.const 0x7f
        i32.eq
        local.get $b
        i32.const 0xc2
        i32.eq
        i32.or
        local.get $b
        i32.const 0xe2
        i32.eq
        i32.or
        if
          local.get $i
          return
        end
        local.get $i
        i32.const 1
        i32.add
        local.set $i
        br $tail
      end
    end
    local.get $end)
)

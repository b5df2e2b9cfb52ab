package capture

import "sync"

// lzwTables recycles the code tables of lzwEncode.
var lzwTables = sync.Pool{New: func() any { return new(lzwTable) }}

const (
	lzwTableBits = 14
	lzwTableSize = 1 << lzwTableBits
	lzwTableMask = lzwTableSize - 1
)

// lzwTable maps prefix<<8|literal to a code (codes: entry = key<<12 | code, 0 when empty; open
// addressing, small enough to stay in the CPU's cache) and lists the codes of runs.
type lzwTable struct {
	codes [lzwTableSize]uint32
	runs  [256][]uint16
}

// lzwEncode appends to dst the GIF LZW encoding (8-bit literals, codes packed
// least-significant bit first) of src. It produces exactly what compress/lzw's writer produces
// (a clear code first, a clear code whenever the 12-bit code space is used up), without the
// io.Writer plumbing, and skips runs of one byte quickly.
func lzwEncode(dst, src []byte) []byte {
	const (
		clearCode = 256
		eofCode   = 257
		maxCode   = 1<<12 - 1
	)
	table := lzwTables.Get().(*lzwTable)
	defer lzwTables.Put(table)
	clear(table.codes[:])

	var bits uint64
	var nBits uint
	width := uint(9)
	hi, overflow := uint32(eofCode), uint32(512)

	bits, nBits = clearCode, width
	if len(src) == 0 {
		dst, bits, nBits = lzwPut(dst, bits, nBits, eofCode, width)
		if nBits > 0 {
			dst = append(dst, byte(bits))
		}
		return dst
	}
	// Runs of one byte, the bulk of a dashboard frame, skip the hash table: runs[x][k-2] is the
	// code for x repeated k times, and while the current code is such a run (runLen > 0) the
	// next bytes equal to x extend it straight from that list.
	runs := &table.runs
	for x := range runs {
		runs[x] = runs[x][:0]
	}
	code := uint32(src[0])
	runByte, runLen := src[0], 1
	for i := 1; i < len(src); {
		lit := src[i]
		if runLen > 0 && lit == runByte {
			if avail := len(runs[lit]) + 1 - runLen; avail > 0 {
				j := 1
				for j < avail && i+j < len(src) && src[i+j] == lit {
					j++
				}
				runLen += j
				code = uint32(runs[lit][runLen-2])
				i += j
				continue
			}
		}
		i++
		key := code<<8 | uint32(lit)
		h := (key>>12 ^ key) & lzwTableMask
		hit := false
		for t := table.codes[h]; t != 0; {
			if key == t>>12 {
				code, hit = t&maxCode, true
				break
			}
			h = (h + 1) & lzwTableMask
			t = table.codes[h]
		}
		if hit {
			runLen = 0
			continue
		}
		dst, bits, nBits = lzwPut(dst, bits, nBits, code, width)
		extendsRun := runLen > 0 && lit == runByte
		code, runByte, runLen = uint32(lit), lit, 1
		hi++
		if hi == overflow {
			width++
			overflow <<= 1
		}
		if hi == maxCode {
			dst, bits, nBits = lzwPut(dst, bits, nBits, clearCode, width)
			width, hi, overflow = 9, eofCode, 512
			clear(table.codes[:])
			for x := range runs {
				runs[x] = runs[x][:0]
			}
			continue
		}
		table.codes[h] = key<<12 | hi
		if extendsRun {
			runs[lit] = append(runs[lit], uint16(hi))
		}
	}
	dst, bits, nBits = lzwPut(dst, bits, nBits, code, width)
	hi++
	if hi == overflow {
		width++
	}
	if hi == maxCode {
		dst, bits, nBits = lzwPut(dst, bits, nBits, clearCode, width)
		width = 9
	}
	dst, bits, nBits = lzwPut(dst, bits, nBits, eofCode, width)
	if nBits > 0 {
		dst = append(dst, byte(bits))
	}
	return dst
}

// lzwPut adds a code of width bits and moves whole bytes to dst.
func lzwPut(dst []byte, bits uint64, nBits uint, code uint32, width uint) ([]byte, uint64, uint) {
	bits |= uint64(code) << nBits
	nBits += width
	for nBits >= 8 {
		dst = append(dst, byte(bits))
		bits >>= 8
		nBits -= 8
	}
	return dst, bits, nBits
}

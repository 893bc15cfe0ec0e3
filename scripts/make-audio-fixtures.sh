#!/bin/sh
# Regenerates the real-encoder audio fixtures in test/fixtures/audio with ffmpeg (Debian's ffmpeg 5.1:
# apt-get install ffmpeg). Run once by hand; the tests only read the committed files and need no
# encoder. Each file is 1.5 s of silence, mono, low bit rate, so they stay a few KB; all but the Ogg
# Vorbis one embed cover.png as front cover.
set -eu
cd "$(dirname "$0")/../test/fixtures/audio"

# A real 1x1 PNG for the covers.
printf '%s' 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==' \
  | base64 -d > cover.png

silence='-f lavfi -t 1.5 -i anullsrc=channel_layout=mono:sample_rate=22050'
common='-hide_banner -loglevel error -y -fflags +bitexact -flags:a +bitexact'

# MP3: LAME, ID3v2.3 tag with APIC.
ffmpeg $common $silence -i cover.png -map 0:a -map 1:v -c:a libmp3lame -b:a 32k -c:v copy \
  -id3v2_version 3 -disposition:v attached_pic \
  -metadata title='Real Encoder Song' -metadata artist='Fixture Band' -metadata album='Encoded Album' \
  -metadata date=2001 -metadata genre='Test Rock' real-lame.mp3

# M4A: AAC in MP4 with iTunes ilst tags and a covr atom.
ffmpeg $common $silence -i cover.png -map 0:a -map 1:v -c:a aac -b:a 32k -c:v copy \
  -disposition:v attached_pic \
  -metadata title='Real Encoder Song' -metadata artist='Fixture Band' -metadata album='Encoded Album' \
  -metadata date=2002 -metadata genre='Test Pop' real-aac.m4a

# FLAC: Vorbis comments and a PICTURE block.
ffmpeg $common $silence -i cover.png -map 0:a -map 1:v -c:a flac -c:v copy -disposition:v attached_pic \
  -metadata title='Real Encoder Song' -metadata artist='Fixture Band' -metadata album='Encoded Album' \
  -metadata date=2003 -metadata genre='Test Jazz' real.flac

# Ogg Vorbis: Vorbis comments (ffmpeg cannot embed a cover in Ogg).
ffmpeg $common $silence -c:a libvorbis -q:a 0 \
  -metadata title='Real Encoder Song' -metadata artist='Fixture Band' -metadata album='Encoded Album' \
  -metadata date=2004 -metadata genre='Test Folk' real-vorbis.ogg

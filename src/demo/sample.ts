/** The demo's input: a fail2ban ban notice exactly as Postfix local(8) pipes it. Invented values, documentation IPs. */
export const SAMPLE_ENV = {
  SENDER: "root@demo.example.org",
  RECIPIENT: "root@demo.example.org",
  ORIGINAL_RECIPIENT: "root@demo.example.org",
};

export const SAMPLE_NOTICE = `From root@demo.example.org  Sat Nov 21 11:31:48 2026
Return-Path: <root@demo.example.org>
X-Original-To: root@demo.example.org
Delivered-To: root@demo.example.org
Received: by demo.example.org (Postfix, from userid 0)
\tid 7D3A41E0B2; Sat, 21 Nov 2026 11:31:48 +0100 (CET)
Subject: [Fail2Ban] sshd: banned 203.0.113.45 from demo.example.org
Date: Sat, 21 Nov 2026 11:31:47 +0100
From: Fail2Ban <root@demo.example.org>
To: root@demo.example.org
Message-Id: <20261121103148.7D3A41E0B2@demo.example.org>

Hi,

The IP 203.0.113.45 has just been banned by Fail2Ban after
5 attempts against sshd.

Lines containing failures of 203.0.113.45 (max 1000)
Nov 21 11:31:40 demo sshd-session[4110]: Failed password for invalid user admin from 203.0.113.45 port 51234 ssh2
Nov 21 11:31:43 demo sshd-session[4110]: Failed password for invalid user admin from 203.0.113.45 port 51234 ssh2
Nov 21 11:31:47 demo sshd-session[4112]: Failed password for root from 203.0.113.45 port 51240 ssh2

Regards,

Fail2Ban
`;

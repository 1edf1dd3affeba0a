"""Mail domains that say nothing about who someone works for."""

from __future__ import annotations

# Free-mail providers: an address here names a person, never a company, so a message
# from another address at the same provider is no reply from "their company".
FREE_MAIL = frozenset(
    """
    gmail.com googlemail.com outlook.com hotmail.com hotmail.co.uk live.com msn.com yahoo.com
    yahoo.co.uk ymail.com aol.com icloud.com me.com mac.com proton.me protonmail.com pm.me
    gmx.com gmx.de gmx.net web.de mail.com zoho.com yandex.com yandex.ru fastmail.com
    hey.com tutanota.com tuta.io mailbox.org posteo.de qq.com 163.com orange.fr free.fr laposte.net
    t-online.de freenet.de libero.it
    """.split()
)

"""Simplified Chinese number formats, over Django's own (django/conf/locale/zh_Hans/formats.py).

Django groups Chinese numbers in fours with no separator, so a manager read "12345" chats where the
English page says "12,345"; business software in mainland China writes 12,345, as the charts'
Intl.NumberFormat("zh-Hans") does. Everything else (dates, input formats) stays Django's."""

THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3

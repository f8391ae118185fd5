from django.urls import path

from sealbox.portal import compose, receipt_views, views

urlpatterns = [
    path("", views.index, name="index"),
    path("inbox/", views.inbox, name="inbox"),
    path("sent/", views.sent, name="sent"),
    path("write/", compose.compose, name="compose"),
    path("m/<uuid:message_id>/reply/", compose.reply, name="reply"),
    path("m/<uuid:message_id>/", views.message, name="message"),
    path("m/<uuid:message_id>/body/", views.message_body, name="message-body"),
    path("m/<uuid:message_id>/attachment/<int:index>/", views.attachment, name="attachment"),
    path("m/<uuid:message_id>/eml/", views.eml, name="message-eml"),
    path("m/<uuid:message_id>/delete/", views.delete, name="message-delete"),
    path("m/<uuid:message_id>/unread/", views.mark_unread, name="message-unread"),
    path("m/<uuid:message_id>/receipt/", receipt_views.answer, name="message-receipt"),
]
urlpatterns += [
    path(
        "m/<uuid:message_id>/attachment/<int:index>/preview/",
        views.attachment_preview,
        name="attachment-preview",
    ),
    path(
        "m/<uuid:message_id>/attachment/<int:index>/thumbnail/",
        views.attachment_thumbnail,
        name="attachment-thumbnail",
    ),
    path("m/<uuid:message_id>/attachments.zip", views.attachments_zip, name="attachments-zip"),
]
